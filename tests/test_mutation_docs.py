"""docs/mutation.md: the mutation-testing setup it describes exists, its figures meet the bar,
and bench/mutation_figures.py counts a run the way the page says."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "mutation.md"
FIGURES = ROOT / "bench" / "mutation_figures.py"


def test_the_commands_name_the_configured_tool_modules_and_tests():
    text = DOC.read_text(encoding="utf-8")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mutmut"]
    version = re.search(r"pip install -e '\.\[test\]' mutmut==([\d.]+)", text)
    assert version is not None
    assert f"mutmut {version.group(1)}" in text  # the table names the version it was made with
    for pattern in config["only_mutate"]:
        assert list(ROOT.glob(pattern)), pattern
    for test_file in config["pytest_add_cli_args_test_selection"]:
        assert (ROOT / test_file).is_file(), test_file
    assert "mutmut run --max-children 3  " in text  # the whole run the table comes from
    for test_file in re.findall(r"MUTANT_UNDER_TEST=\S+ python -m pytest -x -q (\S+)", text):
        assert (ROOT / test_file).is_file(), test_file
    for module in re.findall(r'mutmut run --max-children 1 "(nudge_build\.[\w.]+)\*"', text):
        path = ROOT / Path(*module.split("."))
        assert path.with_suffix(".py").is_file() or path.is_dir(), module
    assert "python bench/mutation_figures.py" in text and FIGURES.is_file()
    assert "[mutation testing](mutation.md)" in (ROOT / "docs" / "development.md").read_text()


def test_every_module_below_90_percent_is_named_as_open_work():
    text = DOC.read_text(encoding="utf-8")
    open_work = text.split("## Open", 1)[1]
    rows = [line.split("|") for line in text.splitlines() if line.startswith("| `nudge_build.")]
    assert len(rows) >= 10
    for row in rows:
        module, percent = row[1].strip().strip("`"), float(row[-2])
        if percent < 90.0:
            short = module.removeprefix("nudge_build.")
            assert f"`{short}`" in open_work, module


def test_every_equivalent_survivor_has_a_reason():
    listed = re.findall(r"^- `(nudge_build\.\S+__mutmut_\d+)`(.*)$", DOC.read_text(), re.M)
    assert listed
    for name, reason in listed:
        assert len(reason.strip(" :—-")) > 10, name


def test_the_figures_script_counts_each_status_and_takes_equivalents_from_the_doc(tmp_path):
    meta = tmp_path / "mutants" / "nudge_build" / "demo.py.meta"
    meta.parent.mkdir(parents=True)
    codes: dict[str, int | None] = {
        "nudge_build.demo.x_f__mutmut_1": 1,  # killed
        "nudge_build.demo.x_f__mutmut_2": 1,
        "nudge_build.demo.x_f__mutmut_3": 36,  # timeout: the mutant hung, which counts as caught
        "nudge_build.demo.x_f__mutmut_4": 0,  # survived, judged equivalent below
        "nudge_build.demo.x_f__mutmut_5": 0,  # survived
        "nudge_build.demo.x_f__mutmut_6": 33,  # no test reached it
        "nudge_build.demo.x_f__mutmut_7": None,  # not run yet: counts as not killed
    }
    meta.write_text(json.dumps({"exit_code_by_key": codes}))
    doc = tmp_path / "mutation.md"
    doc.write_text(
        "- `nudge_build.demo.x_f__mutmut_4`: same output for every input\n"
        "- `nudge_build.demo.x_f__mutmut_1`: listed once, killed since\n"
        "- `nudge_build.other.x_g__mutmut_1`: a module this run did not measure\n"
    )
    result = subprocess.run(
        [sys.executable, str(FIGURES), "--mutants", str(tmp_path / "mutants"), "--doc", str(doc)],
        capture_output=True,
        text=True,
        check=True,
    )
    # 3 caught of 7 - 1 equivalent; the killed mutant listed as equivalent counts as killed
    assert "| `nudge_build.demo` | 7 | 2 | 1 | 1 | 1 | 1 | 1 | 50.0 |" in result.stdout
    assert "survived: nudge_build.demo.x_f__mutmut_5" in result.stderr
    assert "no test: nudge_build.demo.x_f__mutmut_6" in result.stderr
    stale = [line for line in result.stderr.splitlines() if "listed as equivalent" in line]
    assert stale == ["listed as equivalent but killed or gone: nudge_build.demo.x_f__mutmut_1"]
