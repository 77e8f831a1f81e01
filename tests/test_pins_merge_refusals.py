"""`plan_merges` in-process on real partner files: what it plans, and which file a refusal names.

The CLI tests see a merge refusal's exit code and first words; these call the planner the
pipeline calls, with a real config, organization, flags and template environment, and pin the
planned change and every refusal's exact path, message and ``file``.
"""

from __future__ import annotations

import os
import plistlib
import shutil
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from nudge_build.config import load_config
from nudge_build.errors import ConfigError, NudgeBuildError, RenderError
from nudge_build.flags import compile_rules, derive
from nudge_build.lock import file_digest
from nudge_build.merge.dotenv import dotenv_part
from nudge_build.merge.plan import plan_merges
from nudge_build.merge.plist import merge_info_plist, nudge_part
from nudge_build.org import parse_organization
from nudge_build.render import make_environment
from nudge_build.targets import search_dirs
from tests.helpers import project_env, write_project

CLIENT = "prairie-fcu"
PLIST = b"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
\t<key>CFBundleName</key>
\t<string>Prairie</string>
</dict>
</plist>
"""
NO_PUSH = {"push": False, "background_location": False}
MERGE = '\n[merge]\ninfo_plist = "ios/{client}/Info.plist"\ndotenv = "rn/{client}/.env"\n'


def project(root: Path, clients: tuple[str, ...] = (CLIENT,)) -> Path:
    config = write_project(root, "http://127.0.0.1:9", clients=clients, extra=MERGE)
    (root / "ios" / CLIENT).mkdir(parents=True)
    (root / "ios" / CLIENT / "Info.plist").write_bytes(PLIST)
    (root / "rn" / CLIENT).mkdir(parents=True)
    (root / "rn" / CLIENT / ".env").write_bytes(b"API_URL=https://example.test\n")
    return config


def plan(config_path: Path, overrides: dict[str, bool] | None = None):
    config = load_config(config_path, project_env())
    org = parse_organization(
        {
            "organizationId": "org_1",
            "name": "Prairie",
            "status": "active",
            "features": {"locationBasedNudges": True},
        },
        client=CLIENT,
    )
    rules = compile_rules({}, config_path=str(config_path))
    flags = derive(org.template_view(), rules, overrides or {}, client=CLIENT)
    env = make_environment(search_dirs(config))
    return plan_merges(config, env, config.clients, {CLIENT: org}, {CLIENT: flags})


def refusal(config_path: Path, kind: type[NudgeBuildError] = ConfigError) -> NudgeBuildError:
    with pytest.raises(kind) as caught:
        plan(config_path)
    return caught.value


def test_each_target_is_planned_with_its_client_kind_paths_and_part_digest(tmp_path):
    changes = plan(project(tmp_path))
    plist_change, env_change = changes[CLIENT]
    plist_path = tmp_path / "ios" / CLIENT / "Info.plist"
    env_path = tmp_path / "rn" / CLIENT / ".env"
    assert (plist_change.client, plist_change.kind, plist_change.relative) == (
        CLIENT,
        "info_plist",
        f"ios/{CLIENT}/Info.plist",
    )
    assert (plist_change.path, plist_change.target, plist_change.old) == (
        plist_path,
        plist_path,
        PLIST,
    )
    merged = plistlib.loads(plist_change.new)
    assert merged["CFBundleName"] == "Prairie"
    assert "location" in merged["UIBackgroundModes"]
    assert plist_change.changed
    assert plist_change.part_digest == file_digest(nudge_part(plist_change.new))
    assert (env_change.client, env_change.kind, env_change.relative) == (
        CLIENT,
        "dotenv",
        f"rn/{CLIENT}/.env",
    )
    assert (env_change.path, env_change.target) == (env_path, env_path)
    assert env_change.new.startswith(b"API_URL=https://example.test\n# >>> nudge-build >>>\n")
    assert env_change.part_digest == file_digest(dotenv_part(env_change.new))


def test_a_damaged_partner_plist_is_refused_naming_client_and_path(tmp_path):
    config = project(tmp_path)
    path = tmp_path / "ios" / CLIENT / "Info.plist"
    path.write_bytes(b"<plist><dict><key>A</key>")
    error = refusal(config)
    assert str(error).startswith(f"client {CLIENT}: {path}: is not a readable XML plist")
    assert error.file == str(path)


def test_a_damaged_partner_env_block_is_refused_naming_client_path_and_line(tmp_path):
    config = project(tmp_path)
    path = tmp_path / "rn" / CLIENT / ".env"
    path.write_bytes(b"A=1\n# >>> nudge-build >>>\nNUDGE_X=1\n")
    error = refusal(config)
    assert str(error).startswith(
        f"client {CLIENT}: {path}:2: the block opened here is never closed by "
    )
    assert (error.file, error.line) == (str(path), 2)


def test_a_failing_partner_env_template_is_named_with_the_client(tmp_path):
    override = tmp_path / "partner" / "react-native"
    override.mkdir(parents=True)
    (override / "nudge.env.j2").write_text("NUDGE_X={{ no_such_value }}\n", encoding="utf-8")
    config = project(tmp_path)
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("[templates]\n", '[templates]\ndir = "partner"\n'), "utf-8")
    error = refusal(config, RenderError)
    assert f"client {CLIENT}: 'no_such_value' is undefined" in str(error)
    assert "client None" not in str(error)


@contextmanager
def as_nobody() -> Iterator[None]:
    """Root reads any file: drop the effective uid (and get it back), as a normal user is."""
    if os.geteuid() != 0:
        yield
        return
    os.seteuid(65534)
    try:
        yield
    finally:
        os.seteuid(0)


def test_an_unreadable_partner_file_is_refused_naming_client_and_path():
    # A folder everyone may pass through, since the check may run as nobody.
    root = Path(tempfile.mkdtemp(prefix="nudge-unreadable-"))
    try:
        root.chmod(0o755)
        config = project(root)
        for folder in (root / "ios", root / "ios" / CLIENT, root / "rn", root / "rn" / CLIENT):
            folder.chmod(0o755)
        for name in ("nudge-build.toml", "rn/prairie-fcu/.env"):
            (root / name).chmod(0o644)
        path = root / "ios" / CLIENT / "Info.plist"
        path.chmod(0)
        with as_nobody():
            error = refusal(config)
        assert str(error) == f"client {CLIENT}: {path}: cannot read: Permission denied"
        assert error.file == str(path)
    finally:
        (root / "ios" / CLIENT / "Info.plist").chmod(stat.S_IRUSR | stat.S_IWUSR)
        shutil.rmtree(root)


def test_a_client_whose_fetch_failed_is_skipped_and_the_next_one_planned(tmp_path):
    # harbor-bank has no organization (its fetch failed) and no files: it must not stop the loop.
    config = project(tmp_path, clients=("harbor-bank", CLIENT))
    assert [client.id for client in load_config(config, project_env()).clients] == [
        "harbor-bank",
        CLIENT,
    ]
    assert list(plan(config)) == [CLIENT]


def test_without_push_the_partners_own_remote_notification_mode_is_not_nudges_part(tmp_path):
    config = project(tmp_path)
    without = plan(config, NO_PUSH)[CLIENT][0]
    path = tmp_path / "ios" / CLIENT / "Info.plist"
    path.write_bytes(
        PLIST.replace(
            b"</dict>",
            b"\t<key>UIBackgroundModes</key>\n\t<array>\n\t\t<string>remote-notification</string>"
            b"\n\t</array>\n</dict>",
        )
    )
    with_mode = plan(config, NO_PUSH)[CLIENT][0]
    assert plistlib.loads(with_mode.new)["UIBackgroundModes"] == ["remote-notification"]
    assert with_mode.part_digest == without.part_digest


# -- merge_info_plist on its own: refusals of _load and the layout of what it adds ---------------

WHERE = "ios/prairie-fcu/Info.plist"


def merged(data: bytes, **changes) -> bytes:
    args = {"strings": {}, "remove_keys": (), "add_modes": (), "remove_modes": ()}
    return merge_info_plist(data, **(args | changes), where=WHERE)


def plist_refusal(data: bytes, **changes) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        merged(data, **changes)
    assert caught.value.file == WHERE
    return caught.value


def test_a_binary_plist_is_refused_with_the_command_that_converts_it():
    error = plist_refusal(plistlib.dumps({"A": "b"}, fmt=plistlib.FMT_BINARY))
    assert str(error) == (
        f"{WHERE}: is a binary plist; nudge-build edits Info.plist files only as XML, the way "
        "Xcode writes them: convert it once with `plutil -convert xml1` and commit that"
    )


def test_a_plist_that_is_not_utf8_is_refused_with_the_reason():
    error = plist_refusal(PLIST.replace(b"Prairie", b"Pr\xe9rie"))
    assert str(error) == f"{WHERE}: is not UTF-8 text (invalid continuation byte)"


def test_a_plist_whose_root_is_not_a_dictionary_is_refused_naming_its_type():
    error = plist_refusal(b'<?xml version="1.0" encoding="UTF-8"?>\n<plist><array/></plist>\n')
    assert str(error) == f"{WHERE}: the plist's root is list, not a dictionary"


def test_background_modes_twice_is_refused_naming_file_and_key():
    twice = b"\t<key>UIBackgroundModes</key>\n\t<array/>\n"
    error = plist_refusal(PLIST.replace(b"</dict>", twice * 2 + b"</dict>"), add_modes=["location"])
    assert str(error).startswith(f"{WHERE}: UIBackgroundModes: it appears 2 times; ")


def test_a_plist_without_an_xml_declaration_is_read_as_xml():
    # plistlib would not recognize it as XML by itself: it starts with the DOCTYPE.
    data = PLIST.split(b"\n", 1)[1]
    result = merged(data, add_modes=["location"])
    assert plistlib.loads(result, fmt=plistlib.FMT_XML)["UIBackgroundModes"] == ["location"]


def test_an_empty_array_on_the_keys_line_gets_its_end_tag_at_the_roots_indentation():
    data = PLIST.replace(b"</dict>", b"\t<key>UIBackgroundModes</key><array/>\n</dict>")
    assert merged(data, add_modes=["location"]) == PLIST.replace(
        b"</dict>",
        b"\t<key>UIBackgroundModes</key><array>\n\t\t<string>location</string>\n\t</array>\n</dict>",
    )


def test_an_empty_array_on_its_own_line_keeps_that_lines_indentation():
    data = PLIST.replace(b"</dict>", b"\t<key>UIBackgroundModes</key>\n    <array/>\n</dict>")
    assert merged(data, add_modes=["location"]) == PLIST.replace(
        b"</dict>",
        b"\t<key>UIBackgroundModes</key>\n    <array>\n    \t<string>location</string>\n"
        b"    </array>\n</dict>",
    )


def test_a_new_mode_follows_the_indentation_of_the_modes_already_there():
    modes = b"\t<key>UIBackgroundModes</key>\n\t<array>\n   <string>fetch</string>\n\t</array>\n"
    data = PLIST.replace(b"</dict>", modes + b"</dict>")
    assert merged(data, add_modes=["location"]) == PLIST.replace(
        b"</dict>",
        modes.replace(b"\t</array>", b"   <string>location</string>\n\t</array>") + b"</dict>",
    )


def test_keys_added_to_an_empty_root_dict_on_the_plist_line_close_it_at_column_zero():
    data = b'<?xml version="1.0" encoding="UTF-8"?>\n<plist version="1.0"><dict/>\n</plist>\n'
    assert merged(data, strings={"NSLocationWhenInUseUsageDescription": "Near you"}) == (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<plist version="1.0"><dict>\n'
        b"\t<key>NSLocationWhenInUseUsageDescription</key>\n\t<string>Near you</string>\n"
        b"</dict>\n</plist>\n"
    )


def test_an_indented_empty_root_dict_is_closed_at_its_own_indentation():
    # Its keys get Xcode's tab (there is no child to copy); its end tag keeps its indentation.
    data = b'<?xml version="1.0" encoding="UTF-8"?>\n<plist version="1.0">\n  <dict/>\n</plist>\n'
    assert merged(data, strings={"NSLocationWhenInUseUsageDescription": "Near you"}) == (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<plist version="1.0">\n  <dict>\n'
        b"\t<key>NSLocationWhenInUseUsageDescription</key>\n\t<string>Near you</string>\n"
        b"  </dict>\n</plist>\n"
    )


@pytest.mark.parametrize("prefix", [b"X\t", b"\r\t"], ids=["stray-text", "carriage-return"])
def test_a_first_key_after_something_other_than_blanks_gives_no_indentation_to_copy(prefix):
    # Only spaces and tabs are indentation; anything else there means "use Xcode's tab".
    data = PLIST.replace(b"\t<key>CFBundleName", prefix + b"<key>CFBundleName")
    assert merged(data, strings={"NSLocationWhenInUseUsageDescription": "Near you"}) == (
        data.replace(
            b"</dict>",
            b"\t<key>NSLocationWhenInUseUsageDescription</key>\n\t<string>Near you</string>\n"
            b"</dict>",
        )
    )


@pytest.mark.parametrize("prefix", [b"\tX", b"\t\r"], ids=["stray-text", "carriage-return"])
def test_a_removed_key_after_something_other_than_blanks_leaves_that_line(prefix):
    key = b"<key>NSLocationAlwaysUsageDescription</key><string>Always</string>"
    data = PLIST.replace(b"</dict>", prefix + key + b"\n</dict>")
    result = merged(data, remove_keys=["NSLocationAlwaysUsageDescription"])
    assert result == PLIST.replace(b"</dict>", prefix + b"\n</dict>")
