"""Values that recur in every client's files are encoded once per run, per format.

A re-run encodes the platform table's keys, permissions and modes once per format for the run;
these check that what is kept is per format, that a target's format is still told from its own
folder, that a refused value is refused for every client, and that a template's literal goes
through its format's encoder like any value. (A no-change re-run's lockfile: test_lock_rules.py.)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from nudge_build.errors import RenderError
from nudge_build.render import RenderTarget, make_environment, render_client


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
