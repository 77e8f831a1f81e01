"""merge/apply.py on real files: a client's merge targets and outputs together, or neither.

Called directly with plans made by ``write.plan_client`` so that each failure is staged at one
exact step; the CLI-level behaviour is in tests/test_merge_build.py.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from nudge_build import write
from nudge_build.merge.apply import apply_client, clean_merge_temporaries
from nudge_build.merge.plan import MergeChange
from nudge_build.write import OutputError, plan_client


def merge_change(target: Path, old: bytes, new: bytes) -> MergeChange:
    return MergeChange(
        client="acme",
        kind="dotenv",
        relative=target.name,
        path=target,
        target=target,
        old=old,
        new=new,
        part_digest="sha256:x",
    )


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "out"
    root.mkdir()
    target = tmp_path / "app.env"
    target.write_bytes(b"A=1\n")
    return root, target


def test_outputs_are_written_when_no_merge_target_changes(project):
    root, target = project
    plan = plan_client(root, "acme", {"acme/x.txt": b"new\n"}, {})
    apply_client(root, plan, [merge_change(target, b"A=1\n", b"A=1\n")])
    assert (root / "acme" / "x.txt").read_bytes() == b"new\n"
    assert target.read_bytes() == b"A=1\n"


def test_a_merge_target_that_cannot_be_replaced_names_it_and_changes_nothing(project, monkeypatch):
    root, target = project
    plan = plan_client(root, "acme", {"acme/x.txt": b"new\n"}, {})

    def refuse(source: os.PathLike[str], destination: os.PathLike[str]) -> None:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    # A failing rename cannot be staged for real as root (CI): the seam every rename uses.
    monkeypatch.setattr(write, "_rename", refuse)
    with pytest.raises(OutputError) as caught:
        apply_client(root, plan, [merge_change(target, b"A=1\n", b"A=2\n")])
    assert str(caught.value) == (
        f"cannot write {target}: Permission denied; none of client acme's files were changed"
    )
    assert caught.value.file == str(target)
    assert target.read_bytes() == b"A=1\n"
    assert not (root / "acme").exists()
    assert sorted(p.name for p in target.parent.iterdir()) == ["app.env", "out"]


def test_a_failed_output_puts_the_merge_target_back_without_hard_links(project, monkeypatch):
    """On a file system without hard links there is no backup: the old bytes are rewritten."""
    root, target = project
    (root / "acme").mkdir()
    (root / "acme" / "x.txt").write_bytes(b"old\n")
    plan = plan_client(
        root, "acme", {"acme/x.txt": b"new\n"}, {"acme/x.txt": "sha256:" + "0" * 64}, force=True
    )
    monkeypatch.setattr(write, "backup", lambda target: None)  # as os.link failing would
    real = write._rename

    def fail_outputs(source: os.PathLike[str], destination: os.PathLike[str]) -> None:
        if Path(destination).name == "x.txt":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(source, destination)

    monkeypatch.setattr(write, "_rename", fail_outputs)
    with pytest.raises(OutputError):
        apply_client(root, plan, [merge_change(target, b"A=1\n", b"A=2\n")])
    assert target.read_bytes() == b"A=1\n"
    assert (root / "acme" / "x.txt").read_bytes() == b"old\n"
    assert [p.name for p in target.parent.iterdir() if p.name.endswith(".nudge-tmp")] == []


def test_leftover_temporaries_beside_a_merge_target_are_cleaned(project):
    root, target = project
    leftover = target.with_name(f".{target.name}.0123456789ab.nudge-tmp")
    leftover.write_bytes(b"half")
    other = target.with_name(".other.env.0123456789ab.nudge-tmp")  # not this target's
    other.write_bytes(b"keep")
    clean_merge_temporaries([merge_change(target, b"A=1\n", b"A=1\n")])
    assert not leftover.exists()
    assert other.read_bytes() == b"keep"
