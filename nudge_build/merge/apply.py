"""Write a client's merge targets together with its generated files: all of them, or none.

The merge targets are staged beside themselves and moved into place first (each old file kept
under a second name), then the generated files go in with ``write.apply_plan``, which is
all-or-nothing on its own. If that fails, the merge targets are put back; so a client that
fails leaves its merge targets exactly as they were. A target whose bytes do not change is not
touched (its mtime stays, so Xcode does not rebuild).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from nudge_build import write
from nudge_build.merge.plan import MergeChange
from nudge_build.write import (
    ClientPlan,
    OutputError,
    apply_plan,
    clean_temporaries,
    unlink_quietly,
)


def apply_client(root: Path, plan: ClientPlan, merges: Sequence[MergeChange]) -> None:
    changed = [m for m in merges if m.changed]
    if not changed:
        apply_plan(root, plan)
        return
    staged: list[tuple[MergeChange, Path]] = []
    replaced: list[tuple[MergeChange, Path | None]] = []
    current = changed[0]
    try:
        for current in changed:
            staged.append((current, write.stage(current.target, current.new)))
        for current, temp in staged:
            backup = write.backup(current.target)
            try:
                write._rename(temp, current.target)  # the seam every forward rename goes through
            except OSError:
                if backup is not None:
                    unlink_quietly(backup)
                raise
            replaced.append((current, backup))
    except OSError as exc:
        _put_back(replaced)
        for _, temp in staged:
            unlink_quietly(temp)
        raise OutputError(
            f"cannot write {current.path}: {write.reason(exc)}; none of client {plan.client}'s "
            "files were changed",
            file=str(current.path),
        ) from exc
    try:
        apply_plan(root, plan)
    except BaseException:
        _put_back(replaced)
        raise
    for _, backup in replaced:
        if backup is not None:
            unlink_quietly(backup)


def clean_merge_temporaries(merges: Sequence[MergeChange]) -> None:
    """The temporaries a killed run left beside merge targets (only names of our own shape)."""
    for merge in merges:
        # Beside a single file, as for the lockfile: only ``.<its name>.<hex>.nudge-tmp``.
        clean_temporaries(None, merge.target)


def _put_back(replaced: Sequence[tuple[MergeChange, Path | None]]) -> None:
    # Best effort: the error that brought us here is the one to report.
    for merge, backup in reversed(replaced):
        try:
            if backup is not None:
                backup.replace(merge.target)  # the same inode back: mode and mtime as they were
            else:
                write.stage(merge.target, merge.old).replace(merge.target)
        except OSError:
            pass
