"""Per-module figures of the last ``mutmut run``, for docs/mutation.md.

    python bench/mutation_figures.py [--mutants DIR] [--doc docs/mutation.md]

mutmut keeps each source file's results in ``mutants/<path>.meta`` (JSON: mutant name to the
exit code of its test run). This groups them per module and takes the survivors judged
equivalent from the doc's list (each a line starting with ``- `<mutant name>` ``), so the
percentage is of the non-equivalent mutants, as the doc states it. A mutant the run has not
checked (yet) counts as not killed: a stopped run cannot make a module look better. Survivors
not on that list, mutants no test reached, and listed equivalents that a test now kills (or
that no longer exist) are printed by name: each needs a test, a reason, or its line removed.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

# mutmut's own meaning of a test run's exit code (mutmut/stats.py).
_KILLED = {1, 3, 37}
_SURVIVED = {0}
_NO_TESTS = {5, 33}
_TIMEOUT = {36, -24, 24, 152, 255}
_EQUIVALENT_LINE = re.compile(r"^- `(nudge_build\.[\w.]+__mutmut_\d+)`")


@dataclass
class Figures:
    mutants: int = 0
    killed: int = 0
    timeout: int = 0
    equivalent: int = 0
    survivors: list[str] = field(default_factory=list)
    untested: list[str] = field(default_factory=list)
    unchecked: int = 0

    @property
    def percent(self) -> float:
        judged = self.mutants - self.equivalent
        return 100.0 * (self.killed + self.timeout) / judged if judged else 100.0


def module_of(meta: Path, mutants: Path) -> str:
    relative = meta.relative_to(mutants).with_suffix("").with_suffix("")
    return ".".join(relative.parts)


def collect(mutants: Path, equivalent: set[str]) -> tuple[dict[str, Figures], list[str]]:
    """The figures per module, and the listed equivalents this run does not leave surviving."""
    table: dict[str, Figures] = {}
    stale = set(equivalent)
    for meta in sorted(mutants.glob("nudge_build/**/*.py.meta")):
        codes: dict[str, int | None] = json.loads(meta.read_text())["exit_code_by_key"]
        if not codes:
            continue
        figures = table.setdefault(module_of(meta, mutants), Figures())
        for name, code in sorted(codes.items()):
            figures.mutants += 1
            if code in _SURVIVED or code is None:
                stale.discard(name)  # still alive (or not yet run): the reason may stand
            if code is None:
                figures.unchecked += 1
            elif code in _KILLED:
                figures.killed += 1
            elif code in _TIMEOUT:
                figures.timeout += 1
            elif name in equivalent:
                figures.equivalent += 1
            elif code in _NO_TESTS:
                figures.untested.append(name)
            else:
                figures.survivors.append(name)
    measured = {module for module, f in table.items() if f.unchecked < f.mutants}
    return table, sorted(n for n in stale if _module_of_mutant(n) in measured)


def _module_of_mutant(name: str) -> str:
    # ``<module>.x_<function>__mutmut_<n>`` or ``<module>.xǁ<class>ǁ<method>__mutmut_<n>``
    match = re.match(r"(.+?)\.x[_ǁ]", name)
    return match.group(1) if match else name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutants", type=Path, default=Path("mutants"))
    parser.add_argument("--doc", type=Path, default=Path("docs/mutation.md"))
    args = parser.parse_args(argv)
    equivalent = set()
    if args.doc.is_file():
        for line in args.doc.read_text(encoding="utf-8").splitlines():
            if match := _EQUIVALENT_LINE.match(line):
                equivalent.add(match.group(1))
    table, stale = collect(args.mutants, equivalent)
    print(
        "| module | mutants | killed | timeout | equivalent | survived | no test | not checked "
        "| killed % |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for module, f in table.items():
        if f.unchecked == f.mutants:
            continue  # not part of this run
        print(
            f"| `{module}` | {f.mutants} | {f.killed} | {f.timeout} | {f.equivalent} "
            f"| {len(f.survivors)} | {len(f.untested)} | {f.unchecked} | {f.percent:.1f} |"
        )
    for f in table.values():
        for name in f.survivors:
            print(f"survived: {name}", file=sys.stderr)
        for name in f.untested:
            print(f"no test: {name}", file=sys.stderr)
    for name in stale:
        print(f"listed as equivalent but killed or gone: {name}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
