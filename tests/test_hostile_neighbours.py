"""Hostile data and careless neighbours: GitHub mode, client ids, collisions, stale removal,
sandboxed templates and flag expressions.

Real parts throughout: projects on disk, the real CLI, the sandbox API over loopback, and the
job summary judged by GitHub's own Markdown renderer (cmark-gfm).
"""

from __future__ import annotations

import json
import re
import subprocess
import unicodedata
from html.parser import HTMLParser
from pathlib import Path

import pytest

from nudge_build.github import OUR_COMMANDS
from nudge_build.sandbox import SAMPLE_ORGS, Sandbox
from nudge_build.sandbox_faults import Answer
from tests.helpers import CLIENT_ID, CLIENT_SECRET, cli, project_env, tree, write_project
from tests.platform_tools import debian_tool

HOSTILE_NAME = "![x](http://e/x.png) <img src=x> | a |"
HOSTILE_TEXT = "Nudges near you.\n::set-output name=evil::1\n  ::error::pwned\n##[warning]v1"


@pytest.fixture
def hostile_api():
    """prairie-fcu's organization is named and extended by an attacker; harbor-bank is normal."""
    orgs = [dict(o) for o in SAMPLE_ORGS if o["apiKey"] in ("sbx-prairie-fcu", "sbx-harbor-bank")]
    orgs[0]["name"] = HOSTILE_NAME
    orgs[0]["\n::set-output name=x::y"] = "v"
    orgs[0]["::error::pwned"] = "##[add-mask]z"
    orgs[0]["messaging"] = {**orgs[0].get("messaging", {}), "locationPermissionText": HOSTILE_TEXT}
    with Sandbox(orgs, client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as api:
        yield api


@pytest.fixture
def api():
    with Sandbox(client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as sandbox:
        yield sandbox


def github_env(tmp_path: Path) -> dict[str, str]:
    return project_env(
        GITHUB_ACTIONS="true",
        GITHUB_STEP_SUMMARY=str(tmp_path / "summary.md"),
        GITHUB_OUTPUT=str(tmp_path / "outputs.txt"),
        GITHUB_WORKSPACE=str(tmp_path),
    )


def foreign_commands(log: str) -> list[str]:
    """Every line the runner would act on that is not one of ours.

    The runner splits at CR, LF and CRLF; a line acts when it starts with ``::`` after leading
    white space, or holds ``##[`` anywhere (the older syntax). Ours: the fixed command names,
    and the resume line of a ``::stop-commands::TOKEN`` that came before.
    """
    tokens: set[str] = set()
    found = []
    for line in re.split(r"\r\n|\r|\n", log):
        body = line.lstrip()
        if "##[" in line:
            found.append(line)
            continue
        if not body.startswith("::"):
            continue
        name = re.match(r"::([^ :]*)", body)
        command = name.group(1) if name else ""
        if command == "stop-commands":
            tokens.add(body.rsplit("::", 1)[1])
        elif command in OUR_COMMANDS or body == f"::{command}::" and command in tokens:
            continue
        else:
            found.append(line)
    return found


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.cells: list[int] = []  # cells per table row
        self.text = ""

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "tr":
            self.cells.append(0)
        if tag in ("td", "th"):
            self.cells[-1] += 1

    def handle_data(self, data):
        self.text += data


def rendered_by_github(markdown: str) -> _Tags:
    """The summary as github.com renders it (raw HTML kept, as its sanitizer would see it)."""
    cmark = debian_tool("cmark-gfm", "cmark-gfm")
    extensions = ["-e", "autolink", "-e", "table", "-e", "strikethrough", "--unsafe"]
    html = subprocess.run(
        [cmark, *extensions], input=markdown, capture_output=True, text=True, check=True
    ).stdout
    parsed = _Tags()
    parsed.feed(html)
    return parsed


# -- GitHub mode ------------------------------------------------------------------------------


def test_no_outside_text_starts_a_workflow_command_on_any_stream(tmp_path, hostile_api):
    bad = {k: v for k, v in SAMPLE_ORGS[1].items() if k != "apiKey"}
    bad["\n::error::from-a-key\ud800"] = "v"  # a lone surrogate: this org fails, naming the key
    hostile_api.script("sbx-harbor-bank", [Answer.malformed(json.dumps(bad))])
    config = write_project(tmp_path, hostile_api.base_url, clients=["prairie-fcu", "harbor-bank"])
    env = github_env(tmp_path)

    logs = []
    for args in (
        ("-v", "build"),
        ("-v", "build", "--offline", "--dry-run", "prairie-fcu"),
        ("-v", "check", "prairie-fcu"),
        ("check", "--json", "prairie-fcu"),
        ("review", "prairie-fcu"),
        ("flags", "--json", "prairie-fcu"),
    ):
        result = cli(config, *args, env=env)
        assert result.exit_code in (0, 1, 3), (args, result.output)
        logs += [result.stdout, result.stderr]
        if args[1] == "build":  # a hand edit beside the text: diffs show it as context
            plist = tmp_path / "nudge" / "prairie-fcu" / "ios" / "NudgeInfo.plist"
            plist.write_text(plist.read_text().replace("Nudges near you.", "Nudges near us."))
    log = "\n".join(logs)
    assert foreign_commands(log) == []
    # The hostile texts did reach the log, escaped: the test saw what it guards against.
    assert "\\::set-output name=evil::1" in log
    assert "#\\u0023[warning]v1" in log
    assert "::error title=client harbor-bank::" in log  # our own annotation, its data escaped
    assert "%0A::error::from-a-key\\ud800" in log


@pytest.mark.parametrize("client_id", ["::error::pwned", "\n::set-output name=x::y", "a|`b`<i>"])
def test_a_lockfile_client_id_that_is_no_id_is_exit_2_naming_the_file(tmp_path, client_id):
    config = write_project(tmp_path, "http://127.0.0.1:9", clients=["prairie-fcu"])
    lock = tmp_path / "nudge-build.lock"
    key = json.dumps(client_id)  # a TOML basic string is spelled like a JSON one here
    lock.write_text(f'version = 1\n\n[clients.{key}]\ndigest = "sha256:0"\norganization = {{}}\n')
    result = cli(config, "build", "--offline", env=github_env(tmp_path))
    assert result.exit_code == 2, result.output
    # In GitHub mode the error is an annotation on the lockfile, its text escaped as data.
    assert f"::error file=nudge-build.lock::{lock}: " in result.stdout
    assert foreign_commands(result.stdout + "\n" + result.stderr) == []
    page = rendered_by_github((tmp_path / "summary.md").read_text())
    assert "i" not in page.tags and "a" not in page.tags


def test_the_summary_shows_organization_text_inert(tmp_path, hostile_api):
    config = write_project(tmp_path, hostile_api.base_url, clients=["prairie-fcu"])
    env = github_env(tmp_path)
    result = cli(config, "build", env=env)
    assert result.exit_code == 0, result.output
    summary = (tmp_path / "summary.md").read_text()
    page = rendered_by_github(summary)
    assert "img" not in page.tags and "a" not in page.tags
    assert HOSTILE_NAME in page.text  # shown as the organization wrote it, as text
    # Every row of every table has as many cells as its header: no "|" broke out of a cell.
    assert page.cells == [4, 4, 4, 4], page.cells


# -- client ids -------------------------------------------------------------------------------


@pytest.mark.parametrize("client_id", ["con", "nul", "aux", "prn", "com1", "com9", "lpt1", "lpt9"])
def test_windows_reserved_names_are_refused_as_client_ids(tmp_path, client_id):
    config = write_project(tmp_path, "http://127.0.0.1:9", clients=[client_id])
    result = cli(config, "build", "--offline", env=project_env())
    assert result.exit_code == 2
    assert f"{config}: [clients]: client id '{client_id}' is a device name Windows reserves" in (
        result.stderr
    )
    assert not (tmp_path / "nudge").exists()


def test_names_that_only_look_reserved_are_fine(tmp_path):
    config = write_project(tmp_path, "http://127.0.0.1:9", clients=["com10", "console", "lpt0"])
    result = cli(config, "matrix", "--shards", "1")
    assert result.exit_code == 0, result.output


# -- collisions -------------------------------------------------------------------------------


def _custom_targets(tmp_path: Path, targets: dict[str, str]) -> str:
    folder = tmp_path / "tpl"
    for name in targets:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text("{{ client.id }}\n")
    lines = "".join(f'"{name}" = "{path}"\n' for name, path in targets.items())
    return f'\n[templates]\ndir = "tpl"\n\n[templates.targets]\n{lines}'


@pytest.mark.parametrize(
    ("clients", "targets", "path"),
    [
        (
            ["a", "a-b"],
            {"one.txt.j2": "out/{client}.txt", "two.txt.j2": "out/{client}-b.txt"},
            "out/a-b.txt",
        ),
        (["a"], {"one.txt.j2": "out/{client}.txt", "two.txt.j2": "out/{client}.TXT"}, None),
        (["a"], {"one.txt.j2": "out/é-{client}", "two.txt.j2": "out/e\u0301-{client}"}, None),
        (["a"], {"one.txt.j2": "out/{client}", "two.txt.j2": "out/{client}/x"}, None),
    ],
    ids=["ids-meet", "case", "unicode-normalization", "file-as-folder"],
)
def test_two_pairs_resolving_to_one_path_are_refused_before_anything(
    tmp_path, api, clients, targets, path
):
    extra = _custom_targets(tmp_path, targets)
    config = write_project(tmp_path, api.base_url, clients=clients, stock=())
    config.write_text(config.read_text().replace("[templates]\nstock = []\n", "") + extra)
    keys = {c: "sbx-prairie-fcu" for c in clients}
    result = cli(config, "build", env=project_env(keys))
    assert result.exit_code == 2, result.output
    message = result.stderr
    for template, pattern in targets.items():
        assert f"target {pattern!r} (template {template})" in message
    if path is not None:
        assert f"both write {tmp_path.resolve() / 'nudge' / path}" in message
    assert "nothing was written" in message
    assert not (tmp_path / "nudge").exists()
    assert not (tmp_path / "nudge-build.lock").exists()
    assert api.stats.total_requests == 0  # refused before the first request


def test_a_merge_target_meeting_an_output_is_refused(tmp_path, api):
    extra = _custom_targets(tmp_path, {"env.j2": "env/{client}.env"})
    config = write_project(tmp_path, api.base_url, clients=["prairie-fcu"], stock=())
    text = config.read_text().replace("[templates]\nstock = []\n", "") + extra
    # The output root is the project folder here, so the merge path and the target meet.
    config.write_text(text + '\n[output]\nroot = "."\n\n[merge]\ndotenv = "ENV/{client}.env"\n')
    result = cli(config, "build", env=project_env())
    assert result.exit_code == 2, result.output
    assert "client prairie-fcu's target 'env/{client}.env'" in result.stderr
    assert "client prairie-fcu's [merge].dotenv 'ENV/{client}.env'" in result.stderr
    assert "letter case or Unicode normalization" in result.stderr


def test_nfc_and_nfd_spellings_fold_alike():
    from nudge_build.targets import fold

    composed = unicodedata.normalize("NFC", "Café/É.txt")
    assert fold(composed) == fold(unicodedata.normalize("NFD", "CAFÉ/é.TXT"))


# -- stale removal ----------------------------------------------------------------------------


def test_a_removed_clients_lock_entry_cannot_remove_another_clients_file(tmp_path, api):
    config = write_project(tmp_path, api.base_url, clients=["prairie-fcu", "harbor-bank"])
    assert cli(config, "build", env=project_env()).exit_code == 0
    root = tmp_path / "nudge"
    before = tree(root)
    victim = "harbor-bank/ios/Nudge.xcconfig"
    lock = tmp_path / "nudge-build.lock"
    digest = "sha256:" + __import__("hashlib").sha256((root / victim).read_bytes()).hexdigest()
    # A neighbour's merge brings back a removed client that "wrote" harbor-bank's file, and a
    # partner file beside the outputs, with their true digests.
    (root / "README.md").write_text("the partner's own\n")
    readme = "sha256:" + __import__("hashlib").sha256(b"the partner's own\n").hexdigest()
    lock.write_text(
        lock.read_text() + f'\n[clients.gone-cu]\ndigest = "sha256:0"\norganization = {{}}\n\n'
        f'[clients.gone-cu.files]\n"{victim}" = "{digest}"\n"README.md" = "{readme}"\n'
        f'"gone-cu/ios/Nudge.xcconfig" = "{digest}"\n'
    )
    (root / "gone-cu" / "ios").mkdir(parents=True)
    (root / "gone-cu" / "ios" / "Nudge.xcconfig").write_bytes((root / victim).read_bytes())

    result = cli(config, "build", env=project_env())
    assert result.exit_code == 0, result.output
    assert tree(root) == {**before, "README.md": b"the partner's own\n"}  # its own file went
    for kept in (victim, "README.md"):
        assert (
            f"warning: client gone-cu: the lockfile lists {kept!r} for it, but that is not where "
            "its targets write (or another target writes it); kept, not removed as stale"
        ) in result.stderr
    assert "gone-cu" not in lock.read_text()
    assert cli(config, "check", env=project_env()).exit_code == 0


# -- sandboxed templates and flag expressions -------------------------------------------------


@pytest.mark.parametrize(
    "expression",
    [
        "{{ cycler.__init__.__globals__.os.environ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ self._TemplateReference__context }}",
        "{{ lipsum.__globals__['os'].environ }}",
        "{{ 'x' * 10**9 }}",
    ],
)
def test_a_template_cannot_reach_python_the_environment_or_huge_sizes(tmp_path, api, expression):
    extra = _custom_targets(tmp_path, {"leak.txt.j2": "{client}/leak.txt"})
    config = write_project(tmp_path, api.base_url, clients=["prairie-fcu"], stock=())
    config.write_text(config.read_text().replace("[templates]\nstock = []\n", "") + extra)
    (tmp_path / "tpl" / "leak.txt.j2").write_text("line one\n" + expression + "\n")
    result = cli(config, "build", env=project_env())
    assert result.exit_code == 4, result.output
    assert re.search(r"leak\.txt\.j2:2: client prairie-fcu: .*(unsafe|limit)", result.stderr)
    assert CLIENT_SECRET not in result.output
    assert not (tmp_path / "nudge").exists()


def test_template_features_still_work_in_the_sandbox(tmp_path, api):
    (tmp_path / "tpl").mkdir()
    (tmp_path / "tpl" / "_parts.j2").write_text("{% macro hi(n) %}hi {{ n }}{% endmacro %}\n")
    (tmp_path / "tpl" / "all.txt.j2").write_text(
        '{% import "_parts.j2" as parts %}{{ parts.hi(client.id) }}\n'
        "{{ range(3) | list | tojson }} {{ {'a': 1} | tojson }}\n"
        "{{ 'ab' * 2 }} {{ '%03d' | format(7) }} {{ 'x' | center(5) }}|"
        "{{ 'a-b' | replace('-', '+') }}\n"
        "{{ flags.location }} {{ platform.location_mode }}\n"
    )
    extra = '\n[templates]\ndir = "tpl"\n\n[templates.targets]\n"all.txt.j2" = "{client}.txt"\n'
    config = write_project(tmp_path, api.base_url, clients=["prairie-fcu"], stock=())
    config.write_text(config.read_text().replace("[templates]\nstock = []\n", "") + extra)
    result = cli(config, "build", env=project_env())
    assert result.exit_code == 0, result.output
    assert (tmp_path / "nudge" / "prairie-fcu.txt").read_text() == (
        'hi prairie-fcu\n[0, 1, 2] {"a": 1}\nabab 007   x  |a+b\ntrue background\n'
    )


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("range(10**9) | length > 0", "range of 1,000,000,000 numbers"),
        ("('x' * 10**9) | length > 0", "repeating a sequence would make 1,000,000,000 items"),
        ("(10 ** (10 ** 9)) > 0", "a power of about 4,000,000,000 bits"),
        ("'x'.center(10**9) | length > 0", "str.center with 1,000,000,000"),
        ("('%1000000000d' % 1) | length > 0", "a format width of 1000000000"),
        ("1 / 0", "ZeroDivisionError: division by zero"),
        ("cycler.__init__.__globals__.os.environ | length > 0", "unsafe"),
    ],
)
def test_a_flag_expression_that_would_exhaust_the_machine_is_exit_2(
    tmp_path, api, expression, reason
):
    config = write_project(tmp_path, api.base_url, clients=["prairie-fcu"])
    config.write_text(config.read_text() + f'\n[flags]\nbig = "{expression}"\n')
    result = cli(config, "build", env=project_env())
    assert result.exit_code == 2, result.output
    assert "client prairie-fcu: flag big: expression" in result.stderr
    assert reason in result.stderr
    assert not (tmp_path / "nudge").exists()


# -- the documentation states what the code does ---------------------------------------------


def test_the_reliability_page_states_these_guarantees_as_the_code_has_them():
    from nudge_build.config import WINDOWS_RESERVED_IDS
    from nudge_build.github import inert
    from nudge_build.jinja_sandbox import MAX_INT_BITS, MAX_RANGE, MAX_SIZE
    from nudge_build.pipeline import _kept_warning

    page = (Path(__file__).parent.parent / "docs" / "reliability.md").read_text()
    text = " ".join(page.split())
    warning = _kept_warning("X", "PATH").message.replace("client X", "warning: client X")
    assert f"`{warning}`" in text
    assert "`#\\u0023[`" in text and inert("##[") == "#\\u0023["
    assert f"at most {MAX_SIZE:,} items" in text
    assert f"`range` at most {MAX_RANGE:,} numbers" in text
    assert f"a power at most {MAX_INT_BITS:,} bits" in text
    assert len(WINDOWS_RESERVED_IDS) == 4 + 9 + 9
    assert "`con`, `prn`, `aux`, `nul`, `com1`–`com9`, `lpt1`–`lpt9`" in text
