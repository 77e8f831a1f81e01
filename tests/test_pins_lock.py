"""The lockfile reader and writer, called directly: each damage gives its exact message and key
path, each accepted shape reads back as written. These pin what a mutation run of
``nudge_build.lock`` found untested (docs/mutation.md); the CLI's view is in test_lock_rules.py.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest

from nudge_build.answer import MAX_DEPTH
from nudge_build.errors import ConfigError
from nudge_build.flags import Flag, Flags
from nudge_build.lock import (
    HEADER,
    Lock,
    LockedClient,
    LockEntryError,
    dump_lock,
    encode_entry,
    lock_table,
    locked_flags,
    plain_relative,
    read_lock,
)

RECOVER = "restore the lockfile from version control or delete it and run `nudge-build fetch`"
ENTRY = 'digest = "sha256:00"\n[clients.bank.organization]\nname = "Bank"\n'


def lockfile(tmp_path: Path, body: str, *, version: str = "version = 1\n") -> Path:
    path = tmp_path / "nudge-build.lock"
    path.write_text(version + body, encoding="utf-8")
    return path


def refusal(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        read_lock(path)
    assert info.value.file == str(path)
    assert info.value.exit_code == 2
    return str(info.value)


def test_no_lockfile_reads_as_an_empty_lock(tmp_path):
    assert read_lock(tmp_path / "absent.lock") == Lock()


def test_a_lockfile_that_cannot_be_read_names_the_reason(tmp_path):
    folder = tmp_path / "nudge-build.lock"
    folder.mkdir()
    assert refusal(folder) == f"{folder}: cannot read lockfile: Is a directory"


def test_bytes_that_are_not_toml_are_refused_with_the_parser_message(tmp_path):
    path = lockfile(tmp_path, "clients = [\n")
    message = refusal(path)
    assert message.startswith(f"{path}: lockfile is not valid TOML (")
    assert message.endswith(
        "); restore it from version control or delete it and run `nudge-build fetch`"
    )


def test_bytes_that_are_not_utf8_are_refused_as_not_toml(tmp_path):
    path = tmp_path / "nudge-build.lock"
    path.write_bytes(b'version = 1\nname = "Caf\xe9"\n')
    message = refusal(path)
    assert message.startswith(f"{path}: lockfile is not valid TOML ('utf-8' codec can't decode")


def test_arrays_nested_too_deep_for_the_parser_are_refused(tmp_path):
    depth = 200_000
    path = lockfile(tmp_path, "x = " + "[" * depth + "]" * depth + "\n")
    assert refusal(path) == f"{path}: lockfile nests arrays or tables too deep to read; {RECOVER}"


@pytest.mark.parametrize(("version", "shown"), [("version = 2\n", "2"), ("", "None")])
def test_a_version_other_than_1_is_refused(tmp_path, version, shown):
    path = lockfile(tmp_path, "", version=version)
    assert refusal(path) == (
        f"{path}: lockfile version {shown} is not 1; delete it and run `nudge-build fetch`"
    )


def test_a_lockfile_with_no_clients_table_has_no_clients(tmp_path):
    assert read_lock(lockfile(tmp_path, "")) == Lock({})


def test_clients_that_are_not_a_table_are_refused(tmp_path):
    path = lockfile(tmp_path, "clients = 1\n")
    assert refusal(path) == f"{path}: [clients]: expected a table of clients; {RECOVER}"


def test_a_client_id_unlike_a_configs_is_refused_and_shortened(tmp_path):
    bad = "Bank_" + "x" * 80
    path = lockfile(tmp_path, f'[clients.{bad}]\ndigest = "d"\n')
    assert refusal(path) == (
        f"{path}: [clients]: expected client ids like a config's, not {bad[:60]!r}; {RECOVER}"
    )


def test_an_entry_that_is_not_a_table_is_refused(tmp_path):
    path = lockfile(tmp_path, "[clients]\nbank = 1\n")
    assert refusal(path) == f"{path}: [clients.bank]: expected a table; {RECOVER}"


@pytest.mark.parametrize("key", ["organization", "digest"])
def test_an_entry_without_organization_or_digest_is_incomplete(tmp_path, key):
    body = {
        "organization": '[clients.bank]\ndigest = "d"\n',
        "digest": "[clients.bank.organization]\nname = 'Bank'\n",
    }[key]
    path = lockfile(tmp_path, body)
    assert refusal(path) == (
        f"{path}: [clients.bank.{key}]: expected a value (the entry is incomplete); {RECOVER}"
    )


def test_a_minimal_entry_reads_with_empty_tables_for_the_rest(tmp_path):
    lock = read_lock(lockfile(tmp_path, "[clients.bank]\n" + ENTRY))
    assert lock == Lock({"bank": LockedClient(organization={"name": "Bank"}, digest="sha256:00")})
    entry = lock.clients["bank"]
    assert (entry.flags, entry.flag_sources, entry.files, entry.merged) == ({}, {}, {}, {})


WRONG_TYPES = {
    "digest": ("digest = 1\n", "a string"),
    "organization": ("organization = 'x'\n", "a table"),
    "flags": ("flags = 'x'\n", "a table of true/false"),
    "flags-items": ("flags = { location = 'yes' }\n", "a table of true/false"),
    "flag_sources": ("flag_sources = { location = true }\n", "a table of strings"),
    "files": ("files = ['a']\n", "a table of strings"),
    "merged": ("merged = { 'a.plist' = 1 }\n", "a table of strings"),
}


@pytest.mark.parametrize("case", WRONG_TYPES, ids=list(WRONG_TYPES))
def test_a_value_of_the_wrong_type_names_its_key_and_the_type_expected(tmp_path, case):
    line, expected = WRONG_TYPES[case]
    key = case.split("-")[0]
    entry = {"digest": 'digest = "d"\n', "organization": "organization = { name = 'B' }\n"}
    entry[key] = line
    path = lockfile(tmp_path, "[clients.bank]\n" + "".join(entry.values()))
    assert refusal(path) == f"{path}: [clients.bank.{key}]: expected {expected}; {RECOVER}"


def test_every_table_of_an_entry_reads_back_as_written(tmp_path):
    entry = LockedClient(
        organization={"name": "Bank", "features": {"push": True}, "ids": [1, 2]},
        digest="sha256:11",
        flags={"location": True, "push": False},
        flag_sources={"location": "derived", "push": "override"},
        files={"bank/Info.plist": "sha256:22"},
        merged={"ios/Info.plist": "sha256:33"},
    )
    path = tmp_path / "nudge-build.lock"
    path.write_bytes(dump_lock(Lock({"bank": entry})))
    assert read_lock(path) == Lock({"bank": entry})


@pytest.mark.parametrize("relative", ["/etc/passwd", "a/../../b", "a\\b"])
def test_a_recorded_file_outside_the_root_is_refused(tmp_path, relative):
    key = json.dumps(relative)  # a TOML basic string is a JSON string for these
    path = lockfile(
        tmp_path,
        f"[clients.bank]\ndigest = 'd'\nfiles = {{ {key} = 'x' }}\norganization = {{}}\n",
    )
    assert refusal(path) == (
        f"{path}: [clients.bank.files]: {relative!r}: not a plain relative path under the "
        f"output root (recorded for client bank by an earlier run); {RECOVER}"
    )


def test_a_long_bad_path_is_shortened_in_the_message(tmp_path):
    relative = "/" + "a" * 100
    path = lockfile(
        tmp_path,
        f"[clients.bank]\ndigest = 'd'\nfiles = {{ '{relative}' = 'x' }}\norganization = {{}}\n",
    )
    assert f": {relative[:80]!r}: not a plain relative path" in refusal(path)


def nested(depth: int) -> str:
    """An organization table nested ``depth`` levels deep, counting itself, as TOML."""
    return "organization = " + "{ a = " * depth + "1" + " }" * depth + "\n"


def test_an_organization_as_deep_as_an_answer_may_be_is_read(tmp_path):
    path = lockfile(tmp_path, "[clients.bank]\ndigest = 'd'\n" + nested(MAX_DEPTH))
    organization = read_lock(path).clients["bank"].organization
    for _ in range(MAX_DEPTH):
        organization = organization["a"]
    assert organization == 1


def test_an_organization_deeper_than_an_answer_may_be_is_refused(tmp_path):
    path = lockfile(tmp_path, "[clients.bank]\ndigest = 'd'\n" + nested(MAX_DEPTH + 1))
    assert refusal(path) == (
        f"{path}: [clients.bank.organization]: expected organization data, not nested deeper "
        f"than {MAX_DEPTH} levels; {RECOVER}"
    )


def test_depth_counts_lists_as_levels_too(tmp_path):
    body = "organization = { a = " + "[" * MAX_DEPTH + "]" * MAX_DEPTH + " }\n"
    path = lockfile(tmp_path, "[clients.bank]\ndigest = 'd'\n" + body)
    assert "not nested deeper than" in refusal(path)
    ok = "organization = { a = " + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1) + " }\n"
    path = lockfile(tmp_path, "[clients.bank]\ndigest = 'd'\n" + ok)
    assert "bank" in read_lock(path).clients


@pytest.mark.parametrize(
    "value", ["1979-05-27", "07:32:00", "1979-05-27T07:32:00", "1979-05-27T07:32:00Z"]
)
def test_dates_and_times_in_an_organization_are_refused_even_in_a_list(tmp_path, value):
    body = f"organization = {{ when = {{ list = [1, {value}] }} }}\n"
    path = lockfile(tmp_path, "[clients.bank]\ndigest = 'd'\n" + body)
    assert refusal(path) == (
        f"{path}: [clients.bank.organization]: expected organization data, with no dates or "
        f"times (an API answer has none); {RECOVER}"
    )


@pytest.mark.parametrize("relative", ["a", "a/b.txt", "..a/b", "a./.b", "a b/c", "bank-top.txt"])
def test_plain_relative_paths(relative):
    assert plain_relative(relative) is True


@pytest.mark.parametrize(
    "relative", ["", "/a", "a/", "a//b", "./a", "a/.", "../a", "a/..", "a\\b", "a\0b", "\0"]
)
def test_paths_that_are_not_plain_relative_ones(relative):
    assert plain_relative(relative) is False


def test_locked_flags_records_values_and_sources_by_name():
    flags = Flags((Flag("location", True, "derived"), Flag("push", False, "override")))
    assert locked_flags(flags) == (
        {"location": True, "push": False},
        {"location": "derived", "push": "override"},
    )


def test_an_empty_lock_is_the_header_a_version_and_an_empty_clients_table():
    assert dump_lock(Lock()) == (HEADER + "\nversion = 1\n\n[clients]\n").encode()
    assert HEADER.startswith("# nudge-build.lock: generated by nudge-build; commit it")


ENTRY_A = LockedClient(organization={"b": 1, "a": {"d": 2, "c": [{"f": 3, "e": 4}]}}, digest="x")


def test_clients_are_written_sorted_and_organization_keys_sorted_at_every_level():
    written = dump_lock(Lock({"zeta": ENTRY_A, "alpha": ENTRY_A})).decode()
    assert written.startswith(HEADER + "\nversion = 1\n")
    assert written.index("[clients.alpha]") < written.index("[clients.zeta]")
    table = lock_table(ENTRY_A)
    assert list(table) == ["digest", "flags", "flag_sources", "files", "organization"]
    organization = table["organization"]
    assert list(organization) == ["a", "b"] and list(organization["a"]) == ["c", "d"]
    assert list(organization["a"]["c"][0]) == ["e", "f"]


def test_files_and_merged_targets_are_written_sorted_and_merged_only_when_present():
    entry = LockedClient(
        organization={},
        digest="x",
        files={"b": "2", "a": "1"},
        merged={"z.plist": "9", "y.env": "8"},
    )
    table = lock_table(entry)
    assert list(table["files"]) == ["a", "b"]
    assert list(table["merged"]) == ["y.env", "z.plist"]
    assert "merged" not in lock_table(ENTRY_A)
    assert b"merged" not in dump_lock(Lock({"bank": ENTRY_A}))


def test_an_entry_encoded_before_the_writes_is_used_only_for_that_very_entry():
    encoded = {"bank": (ENTRY_A, b"\n# encoded earlier\n")}
    head = dump_lock(Lock())[: -len(b"\n[clients]\n")]
    assert dump_lock(Lock({"bank": ENTRY_A}), encoded) == head + b"\n# encoded earlier\n"
    # An equal entry that is not the same object was not the one encoded: encode it afresh.
    copy = LockedClient(organization=dict(ENTRY_A.organization), digest="x")
    fresh = dump_lock(Lock({"bank": copy}), encoded)
    assert fresh == head + encode_entry("bank", copy)
    assert fresh == dump_lock(Lock({"bank": copy}))


def test_encode_entry_is_one_clients_section_after_a_blank_line():
    assert encode_entry("bank", LockedClient(organization={"n": 1}, digest="x")) == (
        b'\n[clients.bank]\ndigest = "x"\n\n[clients.bank.flags]\n\n'
        b"[clients.bank.flag_sources]\n\n[clients.bank.files]\n\n"
        b"[clients.bank.organization]\nn = 1\n"
    )


@pytest.mark.parametrize(
    ("organization", "kind"),
    [
        ({"n": {1, 2}}, "TypeError"),
        ({"n": "\udcff"}, "UnicodeEncodeError"),
        ({"n": datetime.timedelta(1)}, "TypeError"),
    ],
)
def test_an_entry_that_cannot_be_written_names_the_client_and_the_error(organization, kind):
    with pytest.raises(LockEntryError) as info:
        encode_entry("bank", LockedClient(organization=organization, digest="x"))
    assert str(info.value) == (
        f"client bank: its lockfile entry cannot be written ({kind}); "
        "none of its files were written"
    )
    assert info.value.exit_code == 4


def test_a_lock_read_from_a_file_says_so_and_a_new_one_does_not(tmp_path):
    # What lets a run whose entries are unchanged leave the file as it is (pipeline.write_lock).
    assert read_lock(lockfile(tmp_path, "")).on_disk is True
    assert read_lock(tmp_path / "missing.lock").on_disk is False
    assert Lock().on_disk is False
