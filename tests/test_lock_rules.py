"""The lockfile's rules: what is read back is checked, and what is written depends on nothing
but the data (not the API's field order, not a digest algorithm that could drift).

A damaged lockfile is a clear error, exit 2, from `render` and `check` alike, and nothing is
written; the real CLI against a sandbox on loopback, real files.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from nudge_build.lock import file_digest
from nudge_build.sandbox import SAMPLE_ORGS, Sandbox
from tests.helpers import CLIENT_ID, CLIENT_SECRET, cli, mtimes, project_env, tree, write_project

CLIENTS = ("prairie-fcu", "harbor-bank")
KEYS = {"prairie-fcu": "sbx-prairie-fcu", "harbor-bank": "sbx-harbor-bank"}


@pytest.fixture(scope="module")
def api() -> Iterator[Sandbox]:
    with Sandbox(client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as sandbox:
        yield sandbox


def fetched(root: Path, sandbox: Sandbox, *, extra: str = "") -> Path:
    """A project of CLIENTS (with ``tpl`` as its templates folder) and its fetched lockfile."""
    (root / "tpl").mkdir(parents=True, exist_ok=True)
    config = write_project(root, sandbox.base_url, clients=CLIENTS, stock=("ios",), extra=extra)
    config.write_text(config.read_text().replace("[templates]\n", '[templates]\ndir = "tpl"\n'))
    result = cli(config, "fetch", env=project_env(KEYS))
    assert result.exit_code == 0, result.output
    return config


# -- what is read back ---------------------------------------------------------------------------


def edited(change: Callable[[dict[str, Any]], None]) -> Callable[[str], str]:
    """A damage done to the parsed lockfile, written back as valid TOML."""

    def edit(text: str) -> str:
        data = tomllib.loads(text)
        change(data)
        return tomli_w.dumps(data)

    return edit


def harbor(change: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    return lambda data: change(data["clients"]["harbor-bank"])


DAMAGE: dict[str, tuple[Callable[[str], str], str]] = {
    "version-2": (
        edited(lambda d: d.update(version=2)),
        "lockfile version 2 is not 1; delete it and run `nudge-build fetch`",
    ),
    "version-as-text": (
        edited(lambda d: d.update(version="1")),
        "lockfile version '1' is not 1",
    ),
    "version-missing": (
        edited(lambda d: d.pop("version")),
        "lockfile version None is not 1",
    ),
    "entry-not-a-table": (
        edited(lambda d: d["clients"].update({"harbor-bank": 1})),
        "[clients.harbor-bank]: expected a table; restore the lockfile from version control",
    ),
    "entry-an-array-of-tables": (
        edited(lambda d: d["clients"].update({"harbor-bank": [d["clients"]["harbor-bank"]]})),
        "[clients.harbor-bank]: expected a table;",
    ),
    "digest-missing": (
        edited(harbor(lambda entry: entry.pop("digest"))),
        "[clients.harbor-bank.digest]: expected a value (the entry is incomplete)",
    ),
    "organization-missing": (
        edited(harbor(lambda entry: entry.pop("organization"))),
        "[clients.harbor-bank.organization]: expected a value (the entry is incomplete)",
    ),
}


@pytest.mark.parametrize("damage", DAMAGE, ids=list(DAMAGE))
def test_a_damaged_lockfile_is_exit_2_naming_what_is_wrong(tmp_path, api, damage):
    config = fetched(tmp_path, api)
    lockfile = tmp_path / "nudge-build.lock"
    edit, message = DAMAGE[damage]
    damaged = edit(lockfile.read_text())
    assert damaged != lockfile.read_text()
    lockfile.write_text(damaged)
    for command in ("render", "check"):
        result = cli(config, command)
        assert result.exit_code == 2, result.output
        assert f"error: {lockfile}: " in result.stderr and message in result.stderr
        assert "internal error" not in result.stderr
    assert lockfile.read_text() == damaged
    assert not (tmp_path / "nudge").exists()


def test_a_lockfile_that_is_not_utf8_is_exit_2_not_read_some_other_way(tmp_path, api):
    config = fetched(tmp_path, api)
    lockfile = tmp_path / "nudge-build.lock"
    raw = lockfile.read_bytes()
    # Latin-1 for "é" inside a string: valid TOML in every respect but its encoding.
    damaged = raw.replace(b'name = "Harbor', b'name = "Caf\xe9 Harbor', 1)
    assert damaged != raw
    lockfile.write_bytes(damaged)
    for command in ("render", "check"):
        result = cli(config, command)
        assert result.exit_code == 2, result.output
        assert f"error: {lockfile}: lockfile is not valid TOML (" in result.stderr
        assert "'utf-8' codec can't decode byte 0xe9" in result.stderr
        assert "restore it from version control or delete it" in result.stderr
    assert not (tmp_path / "nudge").exists()


# -- what is written -----------------------------------------------------------------------------


def reordered(value: Any) -> Any:
    """The same JSON with every object's keys in reverse order."""
    if isinstance(value, dict):
        return {key: reordered(value[key]) for key in reversed(list(value))}
    if isinstance(value, list):
        return [reordered(item) for item in value]
    return value


def test_an_api_that_reorders_fields_changes_no_byte_of_the_lockfile(tmp_path):
    orgs = [org for org in SAMPLE_ORGS if org["apiKey"] in KEYS.values()]
    backwards = [reordered(org) for org in orgs]
    assert [list(org) for org in backwards] != [list(org) for org in orgs]
    locks = []
    for name, served in (("forwards", orgs), ("backwards", backwards)):
        with Sandbox(served, client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as sandbox:
            config = fetched(tmp_path / name, sandbox)
        locks.append((config.parent / "nudge-build.lock").read_bytes())
    assert locks[0] == locks[1]
    # Sorted at every level, not merely in a fixed order of the API's choosing.
    text = locks[0].decode()
    organization = text.split("[clients.harbor-bank.organization]\n", 1)[1].split("\n\n", 1)[0]
    keys = [line.split(" = ", 1)[0] for line in organization.splitlines()]
    assert keys == sorted(keys) and "name" in keys and "organizationId" in keys
    features = text.split("[clients.harbor-bank.organization.features]\n", 1)[1]
    keys = [line.split(" = ", 1)[0] for line in features.split("\n\n", 1)[0].splitlines()]
    assert keys == sorted(keys) and len(keys) >= 2


# The digests the lockfile records for files: SHA-256 of the bytes, hex, with its name in front.
# Another algorithm or spelling would make every file of every checkout look changed by hand.
KNOWN_DIGESTS = {
    b"": "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    b"pinned\n": "sha256:dbdbfc4eea60c31dfdb68830dcf4393aa7e1fb5b64af6377e444c6c42e909203",
}


def test_the_file_digest_is_pinned_to_sha256_hex():
    for data, digest in KNOWN_DIGESTS.items():
        assert file_digest(data) == digest
    assert file_digest(b"pinned\n") == "sha256:" + hashlib.sha256(b"pinned\n").hexdigest()


def test_the_lockfile_records_the_pinned_digest_of_what_was_written(tmp_path, api):
    (tmp_path / "tpl" / "pin").mkdir(parents=True)
    (tmp_path / "tpl" / "pin" / "Pinned.txt.j2").write_text("pinned\n")
    config = fetched(
        tmp_path, api, extra='[templates.targets]\n"pin/Pinned.txt.j2" = "{client}/Pinned.txt"\n'
    )
    result = cli(config, "render")
    assert result.exit_code == 0, result.output
    assert tree(tmp_path / "nudge")["prairie-fcu/Pinned.txt"] == b"pinned\n"
    lock = (tmp_path / "nudge-build.lock").read_text()
    pinned = KNOWN_DIGESTS[b"pinned\n"]
    assert f'"prairie-fcu/Pinned.txt" = "{pinned}"' in lock


# -- a re-run with nothing changed ------------------------------------------------------------
# The lockfile is left alone (not even encoded and compared) when no entry it records changed,
# and rewritten when one did.


def built(root: Path, api: Sandbox) -> Path:
    config = write_project(root, api.base_url, clients=CLIENTS)
    result = cli(config, "build", env=project_env(KEYS))
    assert result.exit_code == 0, result.output
    return config


def identity(path: Path) -> tuple[int, int]:
    status = path.stat()
    return status.st_ino, status.st_mtime_ns


def test_a_no_change_render_leaves_the_lockfile_untouched_even_laid_out_by_hand(tmp_path, api):
    config = built(tmp_path, api)
    lockfile = config.parent / "nudge-build.lock"
    # The same entries in another layout (a comment): nothing they record changed, so the file
    # stays exactly as it is, neither rewritten nor replaced by a new inode.
    laid_out = lockfile.read_bytes() + b"# reviewed by hand\n"
    lockfile.write_bytes(laid_out)
    before, files = identity(lockfile), mtimes(config.parent / "nudge")

    result = cli(config, "render")

    assert result.exit_code == 0, result.output
    assert "wrote 0 new and 0 changed files, 12 unchanged" in result.stdout
    assert identity(lockfile) == before and lockfile.read_bytes() == laid_out
    assert mtimes(config.parent / "nudge") == files


def test_a_changed_flag_set_still_rewrites_the_lockfile_in_its_own_layout(tmp_path, api):
    config = built(tmp_path, api)
    lockfile = config.parent / "nudge-build.lock"
    lockfile.write_bytes(lockfile.read_bytes() + b"# reviewed by hand\n")
    before = identity(lockfile)
    override = "\n[clients.harbor-bank.flags]\npush = false\n"
    config.write_text(config.read_text() + override, encoding="utf-8")

    result = cli(config, "render")

    assert result.exit_code == 0, result.output
    assert identity(lockfile) != before
    text = lockfile.read_text(encoding="utf-8")
    assert "# reviewed by hand" not in text
    entry = tomllib.loads(text)["clients"]["harbor-bank"]
    assert entry["flags"]["push"] is False and entry["flag_sources"]["push"] == "override"


def test_a_stale_file_is_removed_and_the_lockfile_rewritten(tmp_path, api):
    config = built(tmp_path, api)
    lockfile = config.parent / "nudge-build.lock"
    config.write_text(config.read_text().replace('"ios", "android"', '"ios"'), encoding="utf-8")

    result = cli(config, "render")

    assert result.exit_code == 0, result.output
    assert not (config.parent / "nudge" / "harbor-bank" / "android").exists()
    recorded = tomllib.loads(lockfile.read_text(encoding="utf-8"))["clients"]["harbor-bank"]
    assert sorted(recorded["files"]) == [
        "harbor-bank/ios/Nudge.xcconfig",
        "harbor-bank/ios/NudgeInfo.plist",
        "harbor-bank/ios/PrivacyInfo.xcprivacy",
    ]


def test_a_hand_edit_is_still_found_by_a_no_change_render_and_by_check(tmp_path, api):
    config = built(tmp_path, api)
    lockfile = config.parent / "nudge-build.lock"
    edited = config.parent / "nudge" / "prairie-fcu" / "ios" / "Nudge.xcconfig"
    edited.write_bytes(edited.read_bytes() + b"// mine\n")
    before = identity(lockfile)

    result = cli(config, "render")

    assert result.exit_code == 1, result.output
    assert "prairie-fcu/ios/Nudge.xcconfig" in result.output
    assert edited.read_bytes().endswith(b"// mine\n")
    assert identity(lockfile) == before
    assert cli(config, "check").exit_code != 0
