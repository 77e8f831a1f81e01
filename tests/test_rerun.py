"""A re-run with nothing changed does no avoidable work, and still sees every change.

The real CLI, real files, the sandbox on loopback: the lockfile is left alone (not even
encoded and compared) when no entry it records changed, and rewritten when one did; encodings a
run keeps for values that recur in every client are per format, and a refused value is refused
for every client.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from nudge_build.errors import RenderError
from nudge_build.render import RenderTarget, make_environment, render_client
from nudge_build.sandbox import Sandbox
from tests.helpers import CLIENT_ID, CLIENT_SECRET, cli, mtimes, project_env, write_project

CLIENTS = ("prairie-fcu", "harbor-bank")
KEYS = {"prairie-fcu": "sbx-prairie-fcu", "harbor-bank": "sbx-harbor-bank"}


@pytest.fixture(scope="module")
def api() -> Iterator[Sandbox]:
    with Sandbox(client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as sandbox:
        yield sandbox


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


# -- values kept for the run ---------------------------------------------------------------


def render_one(tmp_path: Path, files: dict[str, str], client: str = "c") -> dict[str, bytes]:
    templates = tmp_path / "tpl"
    templates.mkdir(exist_ok=True)
    for name, text in files.items():
        (templates / name).write_text(text, encoding="utf-8")
    env = make_environment([templates])
    targets = [RenderTarget(name, f"{client}/out/{name.removesuffix('.j2')}") for name in files]
    return render_client(env, targets, {"v": "a&b'c$d"}, client=client)


def test_a_value_kept_for_the_run_is_encoded_for_each_format_it_appears_in(tmp_path):
    files = {
        "a.properties.j2": "k={{ v }}\n",
        "a.xcconfig.j2": "K = {{ v }}\n",
        "a.plist.j2": '<?xml version="1.0" encoding="UTF-8"?>\n<plist version="1.0">'
        "<string>{{ v }}</string></plist>\n",
        "b.properties.j2": "k={{ v }}\n",
    }
    out = render_one(tmp_path, files)
    assert out["c/out/a.properties"] == b"k=a&b'c$d\n" == out["c/out/b.properties"]
    assert out["c/out/a.xcconfig"] == b"K = a&b'c$$d\n"
    assert b"<string>a&amp;b&apos;c$d</string>" in out["c/out/a.plist"]


def test_the_format_of_a_strings_folder_is_told_from_its_folder_for_every_client(tmp_path):
    templates = tmp_path / "tpl"
    templates.mkdir()
    (templates / "s.xml.j2").write_text(
        '<?xml version="1.0" encoding="utf-8"?>\n<resources><string name="n">{{ v }}</string>'
        "</resources>\n",
        encoding="utf-8",
    )
    env = make_environment([templates])
    for client in ("c1", "c2"):
        targets = [
            RenderTarget("s.xml.j2", f"{client}/res/values-fr/s.xml"),
            RenderTarget("s.xml.j2", f"{client}/res/other/s.xml"),
        ]
        out = render_client(env, targets, {"v": "it's"}, client=client)
        assert b">it\\'s</string>" in out[f"{client}/res/values-fr/s.xml"]  # aapt2's escape
        assert b">it&apos;s</string>" in out[f"{client}/res/other/s.xml"]  # plain XML


def test_a_refused_plain_value_is_refused_for_every_client_not_only_the_first(tmp_path):
    templates = tmp_path / "tpl"
    templates.mkdir()
    (templates / "a.xcconfig.j2").write_text("K = {{ v }}\n", encoding="utf-8")
    env = make_environment([templates])
    for client in ("c1", "c2"):
        target = RenderTarget("a.xcconfig.j2", f"{client}/a.xcconfig")
        with pytest.raises(RenderError, match=f"client {client}: a value contains U\\+0007"):
            render_client(env, [target], {"v": "bad\x07"}, client=client)


def test_a_literal_in_a_template_is_encoded_for_its_format_not_html_escaped(tmp_path):
    # Jinja folds constant output at compile time; with autoescape on it HTML-escaped the
    # literal first ("it&#39;s &amp; co" in a .properties file). Each format's rule applies.
    files = {
        "a.properties.j2": 'k={{ "it\'s & co" }} {{ "a&b" | upper }} {{ 1 + 1 }}\n',
        "a.xcconfig.j2": 'K = {{ "$(it) & co" }}\n',
        "a.plist.j2": '<?xml version="1.0" encoding="UTF-8"?>\n<plist version="1.0">'
        '<string>{{ "it\'s & co" }}</string></plist>\n',
    }
    out = render_one(tmp_path, files)
    assert out["c/out/a.properties"] == b"k=it's & co A&B 2\n"
    assert out["c/out/a.xcconfig"] == b"K = $$(it) & co\n"
    assert b"<string>it&apos;s &amp; co</string>" in out["c/out/a.plist"]
