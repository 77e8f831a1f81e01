"""Whether git ignores the output root: generated files are meant to be committed and checked.

React Native's template `.gitignore` ignores `build/`, `flutter clean` deletes it, and EAS Build
uploads only what git does not ignore, so an ignored root loses the files `check` compares.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


def ignoring_rule(path: Path) -> str | None:
    """The rule that makes git ignore the folder ``path`` (``.gitignore:3: build/``), or None.

    None as well when git is not installed or ``path`` is not inside a work tree: there is
    nothing to warn about then.
    """
    git = shutil.which("git")
    if git is None:
        return None
    absolute = path.absolute()
    # Run beside the root, so the rule's file is named from there (.gitignore, not ../).
    folder = next((p for p in absolute.parents if p.is_dir()), None)
    if folder is None:
        return None
    try:
        # The trailing slash says "a folder", so a `nudge/` rule matches before it exists.
        result = subprocess.run(
            [git, "check-ignore", "--verbose", "--", f"{absolute}/"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if result.returncode != 0 or not result.stdout:
        return None
    # <source>:<line>:<pattern>\t<path>; with --verbose a `!pattern` match is also printed,
    # and it means the opposite: not ignored.
    fields = result.stdout.partition("\t")[0].split(":", 2)
    if len(fields) != 3 or fields[2].startswith("!"):
        return None
    source, line, pattern = fields
    return f"{source}:{line}: {pattern}"


def ignored_root_warning(root: Path, shown: str) -> str | None:
    """A one-line warning when git ignores the output root; ``shown`` is how to name it."""
    rule = ignoring_rule(root)
    if rule is None:
        return None
    return (
        f"warning: the output root {shown} is ignored by git ({rule}): its files will not be "
        "committed, EAS Build does not upload them, and `nudge-build check` has nothing to "
        'compare in CI; set [output].root to a folder git keeps, like "nudge"'
    )
