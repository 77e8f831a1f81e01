"""Every fenced code block of the manual (README.md and docs/*.md) is executed or checked.

Each block carries a marker on the line right above its opening fence, ``<!-- example: … -->``,
that says how it is kept true. A block without one fails this module. The kinds:

- ``run [in SETUP]``: shell commands, run with ``/bin/sh -e`` in a fresh project (SETUP, below;
  ``sample`` by default) against the sandbox, with ``nudge-build`` on PATH and no credential in
  the environment but those the block exports itself.
- ``config`` / ``config fragment``: a ``nudge-build.toml`` (a fragment is added to the sample
  project's config), loaded with ``load_config`` and built against the sandbox; the files it
  names for ``[merge]`` and ``[templates].targets`` are made first, as a user has them.
- ``output of `COMMAND` [in SETUP]``: a sample of what COMMAND prints (stdout and stderr as a
  terminal shows them). ``…`` stands for any text, a line of only ``…`` for any lines; paths in
  the project are shown relative to it. A ``json`` sample must have the real document's shape:
  the same keys at every level and the same types (``"…"`` is any string).
- ``usage``: a synopsis ``nudge-build CMD …``; its options and arguments are the command's own.
- ``workflow``: a GitHub Actions workflow, or steps of one, passed through actionlint (with
  shellcheck) against this repository's ``action.yml``, so its inputs and outputs must exist.
- ``checked-by tests/FILE.py::TEST``: TEST exists and FILE (or a tests/ helper it imports)
  reads the page.
- ``not-run: REASON; checked-by tests/FILE.py::TEST``: it needs what this machine has not
  (Gradle, Xcode, the Flutter SDK); TEST checks its facts (paths, names, options).

A marker on the line above ``<!-- NAME:start -->`` claims every block up to
``<!-- NAME:end -->`` (the CLI reference, generated from --help).

Placeholders replaced, and only these: ``NAME=…`` by the sandbox's value of NAME, a base URL
``https://…`` (or none) by the sandbox's, ``<org>/nudge-build@<commit-sha>`` by this repository's
action, ``<org>`` elsewhere by ``example-org``, and ``/tmp/`` by a temporary folder. The quick
start's ``python3 -m venv .venv && . .venv/bin/activate && pip install X &&`` is what
tests/test_cli_misc.py does from a wheel; here the package is installed already, so the rest of
the line runs.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import plistlib
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import tomli_w
import yaml
from click.testing import CliRunner

from nudge_build import targets
from nudge_build.cli import main
from nudge_build.config import load_config
from nudge_build.platforms.names import android_flavor_name
from nudge_build.sandbox import Sandbox
from nudge_build.sandbox_faults import load_faults
from tests import verify_artifacts as art
from tests.helpers import (
    CLIENT_ID,
    CLIENT_SECRET,
    SAMPLE_KEYS,
    cli,
    key_env_name,
    project_env,
    write_project,
)
from tests.platform_tools import debian_tool
from tests.test_action import tool

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BASE_ENV = {"GITHUB_ACTIONS": "", "NUDGE_API_URL": "", "NUDGE_BUILD_CONFIG": "", "NO_COLOR": "1"}

# -- the blocks and their markers -------------------------------------------------------------

FENCE = re.compile(r"^(?P<indent> *)(?P<fence>`{3,}|~{3,})(?P<lang>[\w+-]*)\s*$")
MARKER = re.compile(r"^\s*<!-- example: (?P<spec>.+?) -->\s*$")
REGION = re.compile(r"^\s*<!-- (?P<name>[\w-]+):start -->\s*$")
CLAIMS = {
    "run": re.compile(r"run(?: in (?P<setup>[\w-]+))?"),
    "config": re.compile(r"config(?P<fragment> fragment)?"),
    "output": re.compile(r"output of `(?P<command>[^`]+)`(?: in (?P<setup>[\w-]+))?"),
    "usage": re.compile(r"usage"),
    "workflow": re.compile(r"workflow"),
    "checked-by": re.compile(r"checked-by (?P<test>\S+)"),
    "not-run": re.compile(r"not-run: (?P<reason>.+?); checked-by (?P<test>\S+)"),
}
# What each kind can execute.
LANGUAGES = {
    "run": {"sh"},
    "config": {"toml"},
    "output": {"", "json"},
    "usage": {""},
    "workflow": {"yaml"},
}


@dataclass(frozen=True)
class Claim:
    kind: str
    setup: str = ""
    command: str = ""
    fragment: bool = False
    test: str = ""
    reason: str = ""


@dataclass(frozen=True)
class Block:
    page: str  # relative to the repository: README.md, docs/ci.md
    index: int  # its place among the page's blocks, from 0
    line: int  # the opening fence's line
    lang: str
    text: str  # without the fence's own indentation
    claim: Claim | None
    spec: str = ""

    @property
    def id(self) -> str:
        return f"{self.page}#{self.index}"


def parse_claim(spec: str) -> Claim | None:
    for kind, pattern in CLAIMS.items():
        match = pattern.fullmatch(spec)
        if match:
            found = match.groupdict()
            return Claim(
                kind,
                setup=found.get("setup") or "",
                command=found.get("command") or "",
                fragment=bool(found.get("fragment")),
                test=found.get("test") or "",
                reason=found.get("reason") or "",
            )
    return None


def parse_page(path: Path) -> list[Block]:
    lines = path.read_text(encoding="utf-8").splitlines()
    page = path.relative_to(ROOT).as_posix()
    blocks: list[Block] = []
    region_spec, region_end = "", ""
    number = 0
    while number < len(lines):
        line = lines[number]
        if region_end and line.strip() == region_end:
            region_spec, region_end = "", ""
        region = REGION.match(line)
        if region and number and (above := MARKER.match(lines[number - 1])):
            region_spec, region_end = above["spec"], f"<!-- {region['name']}:end -->"
        fence = FENCE.match(line)
        if fence is None:
            number += 1
            continue
        indent, mark = len(fence["indent"]), fence["fence"]
        closing = re.compile(rf"^ *{re.escape(mark[0])}{{{len(mark)},}}\s*$")
        body: list[str] = []
        start = number
        number += 1
        while number < len(lines) and not closing.match(lines[number]):
            text = lines[number]
            body.append(text[indent:] if not text[:indent].strip() else text)
            number += 1
        above = MARKER.match(lines[start - 1]) if start else None
        spec = above["spec"] if above else region_spec
        text = "\n".join(body) + "\n"
        claim = parse_claim(spec) if spec else None
        blocks.append(Block(page, len(blocks), start + 1, fence["lang"], text, claim, spec))
        number += 1
    return blocks


BLOCKS = [block for page in PAGES for block in parse_page(page)]


def of_kind(*kinds: str) -> list[Any]:
    return [
        pytest.param(b, id=b.id) for b in BLOCKS if b.claim is not None and b.claim.kind in kinds
    ]


def checked_by(test: str) -> list[Block]:
    """The blocks whose marker names ``test`` of this module."""
    node = f"tests/test_docs_examples.py::{test}"
    found = [b for b in BLOCKS if b.claim is not None and b.claim.test == node]
    assert found, f"no block is checked by {node}"
    return found


def block_above(block: Block, kind: str) -> Block:
    """The nearest block of ``kind`` before ``block`` on its page."""
    earlier = [
        b
        for b in BLOCKS
        if b.page == block.page and b.index < block.index and b.claim and b.claim.kind == kind
    ]
    assert earlier, f"{block.id}: no {kind} example above it"
    return earlier[-1]


def test_every_block_of_every_page_is_claimed():
    assert {b.page for b in BLOCKS} >= {"README.md", "docs/cli.md", "docs/ci.md"}
    problems = []
    for block in BLOCKS:
        where = f"{block.page}:{block.line}"
        if not block.spec:
            problems.append(f"{where}: no <!-- example: … --> marker above the block")
        elif block.claim is None:
            problems.append(f"{where}: unknown marker {block.spec!r}")
        elif block.lang not in LANGUAGES.get(block.claim.kind, {block.lang}):
            problems.append(f"{where}: a {block.lang or 'plain'} block cannot be {block.spec!r}")
    assert not problems, "\n".join(problems)


def test_markers_stand_right_above_a_block():
    """A marker anywhere else would claim nothing, silently."""
    stray = []
    for page in PAGES:
        lines = page.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines[:-1]):
            following = lines[number + 1]
            if MARKER.match(line) and not (FENCE.match(following) or REGION.match(following)):
                stray.append(f"{page.relative_to(ROOT)}:{number + 1}")
    assert not stray, stray


def imported_helpers(source: str) -> list[Path]:
    modules = re.findall(r"^from (tests\.\w+) import|^import (tests\.\w+)", source, re.M)
    names = {name for pair in modules for name in pair if name}
    return [ROOT / (name.replace(".", "/") + ".py") for name in sorted(names)]


@pytest.mark.parametrize("block", of_kind("checked-by", "not-run"))
def test_the_named_test_exists_and_reads_the_page(block: Block):
    assert block.claim is not None
    path, _, name = block.claim.test.partition("::")
    name = name.split("[", 1)[0]
    file = ROOT / path
    assert file.is_file() and path.startswith("tests/test_"), block.claim.test
    source = file.read_text(encoding="utf-8")
    tests = {
        node.name
        for node in ast.parse(source).body
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
    }
    assert name in tests, f"{block.id}: {path} has no test {name}"
    page = Path(block.page).name
    readers = [source] + [p.read_text(encoding="utf-8") for p in imported_helpers(source)]
    assert any(page in text for text in readers), f"{path} never names {page}"


# -- projects against the sandbox ---------------------------------------------------------------


@dataclass
class Project:
    root: Path
    env: dict[str, str] = field(default_factory=dict)  # the credentials it needs

    @property
    def config(self) -> Path:
        return self.root / "nudge-build.toml"

    def build(self) -> None:
        result = cli(self.config, "build", env=self.env)
        assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def api() -> Iterator[Sandbox]:
    with Sandbox(client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as running:
        yield running


def sandbox_value(name: str) -> str:
    """What the sandbox answers to for a variable a doc leaves as ``NAME=…``."""
    values = {"NUDGE_CLIENT_ID": CLIENT_ID, "NUDGE_CLIENT_SECRET": CLIENT_SECRET}
    values |= {key_env_name(client): key for client, key in SAMPLE_KEYS.items()}
    assert name in values, f"no sandbox value stands in for {name}=…"
    return values[name]


def credentials(config_path: Path) -> dict[str, str]:
    """The environment a config's credentials come from, filled with the sandbox's values."""
    config = load_config(config_path, {})
    env = {config.api.client_id_env: CLIENT_ID, config.api.client_secret_env: CLIENT_SECRET}
    in_map = {}
    for client in config.clients:
        if client.api_key_env:
            env[client.api_key_env] = SAMPLE_KEYS[client.id]
        elif client.api_key is None:
            in_map[client.id] = SAMPLE_KEYS[client.id]
    if in_map:
        env[config.api.api_keys_env] = json.dumps(in_map)
    return env


def deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


SEED_INFO_PLIST = plistlib.dumps(
    {"CFBundleName": "$(PRODUCT_NAME)", "UIBackgroundModes": ["fetch"]}
)
SEED_DOTENV = b"API_URL=https://api.example.com\n"


def config_project(block: Block, root: Path, api: Sandbox) -> Project:
    """The project a config example describes, with the files it expects the user to have."""
    assert block.claim is not None
    data = tomllib.loads(block.text)  # the example itself must be TOML
    root.mkdir(parents=True, exist_ok=True)
    if block.claim.fragment:
        sample = tomllib.loads(write_project(root, api.base_url).read_text(encoding="utf-8"))
        text = tomli_w.dumps(deep_merge(sample, data))
    elif "https://…" in block.text:
        text = block.text.replace("https://…", api.base_url)
    elif "base_url" in data.get("api", {}):
        raise AssertionError(f"{block.id}: a config example's base_url is https://…")
    elif "api" in data:
        text = re.sub(
            r"^\[api\]\n", f'[api]\nbase_url = "{api.base_url}"\n', block.text, count=1, flags=re.M
        )
    else:
        text = block.text + f'\n[api]\nbase_url = "{api.base_url}"\n'
    (root / "nudge-build.toml").write_text(text, encoding="utf-8")
    config = load_config(root / "nudge-build.toml", {})
    if config.templates.dir is not None:
        config.templates.dir.mkdir(parents=True, exist_ok=True)
        for template, _ in config.templates.targets:
            made = config.templates.dir / template
            made.parent.mkdir(parents=True, exist_ok=True)
            made.write_text("// {{ client.id }}\n", encoding="utf-8")
    for kind, pattern in config.merge.targets():
        for client in config.clients:
            target = root / pattern.replace("{client}", client.id)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(SEED_INFO_PLIST if kind == "info_plist" else SEED_DOTENV)
    return Project(root, credentials(root / "nudge-build.toml"))


@pytest.fixture(scope="module")
def built_examples(api, tmp_path_factory) -> Callable[[Block], Project]:
    """Each config example's project, built once for every test that reads it."""
    cache: dict[str, Project] = {}

    def built(block: Block) -> Project:
        if block.id not in cache:
            project = config_project(block, tmp_path_factory.mktemp("config"), api)
            project.build()
            cache[block.id] = project
        return cache[block.id]

    return built


# Setups: the project a run or output example starts from.


def sample(root: Path, api: Sandbox, block: Block, command: str) -> Project:
    """The five sample clients, ios and android sets; configured, not built."""
    root.mkdir(parents=True, exist_ok=True)
    write_project(root, api.base_url)
    return Project(root, project_env())


def built(root: Path, api: Sandbox, block: Block, command: str) -> Project:
    project = sample(root, api, block, command)
    project.build()
    return project


def empty(root: Path, api: Sandbox, block: Block, command: str) -> Project:
    return Project(root)


def config_above(root: Path, api: Sandbox, block: Block, command: str) -> Project:
    """The project of the config example above this block on its page."""
    return config_project(block_above(block, "config"), root, api)


def verify_commands(text: str) -> list[list[str]]:
    joined = text.replace("\\\n", " ")
    words = [shlex.split(line, comments=True) for line in joined.splitlines()]
    return [w[2:] for w in words if w[:2] == ["nudge-build", "verify"]]


def write_artifacts(project: Project, text: str, *, library_adds: tuple[str, ...] = ()) -> None:
    """Every artifact the verify commands in ``text`` name, built from the project's outputs as
    a release build would assemble them (tests/verify_artifacts.py); ``library_adds`` are
    permissions a library merges into the Android ones."""
    lock = tomllib.loads((project.root / "nudge-build.lock").read_text(encoding="utf-8"))
    out = project.root / "nudge"
    for args in verify_commands(text):
        paths, clients = [], []
        words = iter(args)
        for word in words:
            if word in ("--ios", "--android"):
                paths.append((word, next(words)))
            elif not word.startswith("-"):
                clients.append(word)
        for client in clients or list(lock["clients"]):
            apps = lock["clients"][client]["organization"].get("apps", {})
            bundle_id = apps.get("ios", {}).get("bundleId", "com.example.app")
            application_id = apps.get("android", {}).get("applicationId", "com.example.app")
            flags = lock["clients"][client]["flags"]
            for option, pattern in paths:
                path = project.root / pattern.replace("{client}", client)
                path.parent.mkdir(parents=True, exist_ok=True)
                if option == "--ios":
                    info = art.merged_info(out / client / "ios", bundle_id)
                    privacy = art.privacy_manifest(out / client / "ios")
                    if path.suffix == ".ipa":
                        art.write_ipa(path, info, privacy)
                    elif path.suffix == ".app":
                        art.write_app(path, info, privacy)
                    else:
                        art.write_binary_plist(path, info)
                    continue
                manifest = art.merged_manifest(
                    out / client / "android", application_id, flags, extra_permissions=library_adds
                )
                if path.suffix == ".apk":
                    art.write_apk(path, manifest)
                elif path.suffix == ".aab":
                    art.write_aab(path, manifest)
                else:
                    path.write_text(manifest, encoding="utf-8")


def built_apps(root: Path, api: Sandbox, block: Block, command: str) -> Project:
    """Built, and every app the verify commands name, correct for its client."""
    project = built(root, api, block, command)
    write_artifacts(project, command or block.text)
    return project


def android_apps_with_background_location(
    root: Path, api: Sandbox, block: Block, command: str
) -> Project:
    """Built; only the Android apps the command names exist, and a library merged
    ACCESS_BACKGROUND_LOCATION into each."""
    project = built(root, api, block, command)
    android_only = re.sub(r"--ios \S+", "", command)
    background = "android.permission.ACCESS_BACKGROUND_LOCATION"
    write_artifacts(project, android_only, library_adds=(background,))
    return project


def git_ignored_root(root: Path, api: Sandbox, block: Block, command: str) -> Project:
    """An older project's output root, build/nudge, in a work tree whose .gitignore has build/."""
    git = debian_tool("git", "git")
    subprocess.run([git, "init", "-q", str(root)], check=True)
    (root / ".gitignore").write_text("build/\n", encoding="utf-8")
    write_project(root, api.base_url, extra='[output]\nroot = "build/nudge"\n')
    return Project(root, project_env())


def copied_templates_behind(
    root: Path, api: Sandbox, block: Block, command: str, monkeypatch: pytest.MonkeyPatch
) -> Project:
    """Stock templates copied with init --copy-templates; then an upgrade changed the stock
    Nudge.xcconfig.j2 (a private copy of the stock set stands in for the upgraded package)."""
    stock = root.parent / "stock"
    shutil.copytree(targets.stock_template_dir(), stock)
    monkeypatch.setattr(targets, "stock_template_dir", lambda: stock)
    project = sample(root, api, block, command)
    copied = CliRunner().invoke(
        main, ["init", "--dir", str(root), "--copy-templates"], env=BASE_ENV
    )
    assert copied.exit_code == 0, copied.output
    text = project.config.read_text(encoding="utf-8")
    project.config.write_text(
        text.replace("[templates]\n", '[templates]\ndir = "nudge-templates"\n')
    )
    upgraded = stock / "ios" / "Nudge.xcconfig.j2"
    upgraded.write_text(upgraded.read_text(encoding="utf-8") + "// upgraded\n", encoding="utf-8")
    return project


SETUPS: dict[str, Callable[..., Project]] = {
    "sample": sample,
    "built": built,
    "empty": empty,
    "config-above": config_above,
    "built-apps": built_apps,
    "android-apps-with-background-location": android_apps_with_background_location,
    "git-ignored-root": git_ignored_root,
    "copied-templates-behind": copied_templates_behind,
}


def set_up(block: Block, root: Path, api: Sandbox, monkeypatch: pytest.MonkeyPatch) -> Project:
    assert block.claim is not None
    name = block.claim.setup or "sample"
    assert name in SETUPS, f"{block.id}: unknown setup {name!r}"
    root.mkdir(parents=True, exist_ok=True)
    setup = SETUPS[name]
    if name == "copied-templates-behind":
        return setup(root, api, block, block.claim.command, monkeypatch)
    return setup(root, api, block, block.claim.command)


# -- config -------------------------------------------------------------------------------------


@pytest.mark.parametrize("block", of_kind("config"))
def test_config_example_loads_and_builds(block: Block, built_examples):
    project = built_examples(block)
    config = load_config(project.config, project.env)
    for client in config.clients:
        for stock_set in config.templates.stock:
            assert (config.output.root / client.id / stock_set).is_dir(), (client.id, stock_set)
        for kind, pattern in config.merge.targets():
            target = (project.root / pattern.replace("{client}", client.id)).read_bytes()
            assert target != (SEED_INFO_PLIST if kind == "info_plist" else SEED_DOTENV)


# -- run ----------------------------------------------------------------------------------------

VENV_PREFIX = re.compile(
    r"^python3 -m venv \.venv && \. \.venv/bin/activate && pip install \S+ && ", re.M
)


@pytest.fixture(scope="module")
def bindir(tmp_path_factory) -> Path:
    """``nudge-build`` on PATH: this checkout, run by this interpreter."""
    found = tmp_path_factory.mktemp("bin")
    wrapper = found / "nudge-build"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m nudge_build "$@"\n')
    wrapper.chmod(0o755)
    return found


def substitute(text: str, tmp: Path) -> str:
    text = VENV_PREFIX.sub("", text)
    text = re.sub(r"\b([A-Z][A-Z0-9_]*)=…", lambda m: f"{m[1]}={sandbox_value(m[1])}", text)
    text = text.replace("/tmp/", f"{tmp}/")
    assert "…" not in text, f"a placeholder this test does not know:\n{text}"
    return text


def shell(
    script: str, cwd: Path, bindir: Path, env: dict[str, str], *, shell: str = "/bin/sh"
) -> subprocess.CompletedProcess[str]:
    home = cwd.parent / "home"
    home.mkdir(exist_ok=True)
    base = {"PATH": f"{bindir}{os.pathsep}/usr/bin:/bin", "HOME": str(home), "LANG": "C.UTF-8"}
    return subprocess.run(
        [shell, "-ec", script],
        cwd=cwd,
        env={**base, "NO_COLOR": "1", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("block", of_kind("run"))
def test_run_example_succeeds(block: Block, api, bindir, tmp_path, monkeypatch):
    project = set_up(block, tmp_path / "project", api, monkeypatch)
    script = substitute(block.text, tmp_path)
    assert "nudge-build " in script, f"{block.id}: runs no nudge-build command"
    result = shell(script, project.root, bindir, {})
    assert result.returncode == 0, f"{block.id}:\n{script}\n{result.stdout}{result.stderr}"


# -- output -------------------------------------------------------------------------------------


def sample_pattern(sample_text: str) -> re.Pattern[str]:
    parts = []
    for line in sample_text.rstrip("\n").split("\n"):
        if line.strip() == "…":
            parts.append(r"(?:[^\n]*\n)*?")
        else:
            parts.append(".*?".join(re.escape(piece) for piece in line.split("…")) + r"\n")
    return re.compile("^" + "".join(parts), re.M)


def same_shape(sample_value: Any, real: Any, where: str = "$") -> list[str]:
    if isinstance(sample_value, dict):
        if not isinstance(real, dict):
            return [f"{where}: expected an object"]
        if set(sample_value) != set(real):
            return [f"{where}: keys {sorted(sample_value)} but the output has {sorted(real)}"]
        return [
            p for k in sample_value for p in same_shape(sample_value[k], real[k], f"{where}.{k}")
        ]
    if isinstance(sample_value, list):
        if not isinstance(real, list) or (sample_value and not real):
            return [f"{where}: expected a non-empty list"]
        return [
            p for i, r in enumerate(real) for p in same_shape(sample_value[0], r, f"{where}[{i}]")
        ]
    if type(sample_value) is not type(real):
        return [f"{where}: {sample_value!r} but the output has {real!r}"]
    return []


@pytest.mark.parametrize("block", of_kind("output"))
def test_output_example_is_what_the_command_prints(block: Block, api, tmp_path, monkeypatch):
    assert block.claim is not None
    project = set_up(block, tmp_path / "project", api, monkeypatch)
    words = shlex.split(block.claim.command)
    assert words[0] == "nudge-build", block.claim.command
    monkeypatch.chdir(project.root)  # as the user runs it, at the project's root
    result = CliRunner().invoke(main, words[1:], env={**BASE_ENV, **project.env})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    if block.lang == "json":
        problems = same_shape(json.loads(block.text), json.loads(result.stdout))
        assert not problems, "\n".join(problems)
        return
    printed = result.output.replace(f"{project.root}/", "")
    assert sample_pattern(block.text).search(printed), f"{block.id}: the command printed\n{printed}"


# -- usage --------------------------------------------------------------------------------------

COMMON_OPTIONS = {"--config", "--verbose", "--quiet", "--no-color", "--help"}


@pytest.mark.parametrize("block", of_kind("usage"))
def test_usage_example_is_the_commands_own(block: Block):
    words = block.text.split()
    assert words[0] == "nudge-build" and words[1] in main.commands, block.text
    command = main.commands[words[1]]
    arguments = {str(p.metavar) for p in command.params if p.param_type_name == "argument"}
    options = {o for p in command.params if p.param_type_name == "option" for o in p.opts}
    named = set(re.findall(r"\[(--[\w-]+)", block.text))
    assert named <= options, named - options
    own = {
        p.opts[0]
        for p in command.params
        if p.param_type_name == "option" and p.opts[0].startswith("--")
    } - COMMON_OPTIONS
    assert own <= named, f"the synopsis leaves out {own - named}"
    assert set(re.findall(r"\[[A-Z]+\]\.\.\.", block.text)) == arguments  # [CLIENT]...


# -- workflows ----------------------------------------------------------------------------------

WORKFLOW_HEAD = """\
name: docs example
on: push
permissions: {}
jobs:
  example:
    runs-on: ubuntu-latest
    steps:
"""


def test_workflow_examples_pass_actionlint_against_this_action(tmp_path):
    """docs/ci.md's workflows and steps, this repository's action.yml standing in for
    `<org>/nudge-build@<commit-sha>` (actionlint then checks their inputs and outputs)."""
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)  # actionlint reads local actions from a repository
    (repo / ".github" / "workflows").mkdir(parents=True)
    shutil.copy(ROOT / "action.yml", repo / "action.yml")
    written = {}
    for param in of_kind("workflow"):
        block: Block = param.values[0]
        text = block.text.replace("<org>/nudge-build@<commit-sha>", "./")
        assert "<org>" not in text and "<commit-sha>" not in text, block.id
        document = yaml.safe_load(text)
        if isinstance(document, list):  # steps of a job
            text = WORKFLOW_HEAD + text
        else:  # YAML 1.1 reads the key `on` as true
            keys = {"on" if key is True else key for key in document}
            assert {"name", "on", "jobs"} <= keys, block.id
        name = f"{Path(block.page).stem}-{block.index}.yml"
        (repo / ".github" / "workflows" / name).write_text(text, encoding="utf-8")
        written[name] = block.id
    assert written
    result = subprocess.run(
        [tool("actionlint"), f"-shellcheck={tool('shellcheck')}", "-no-color"],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"{written}\n{result.stdout}{result.stderr}"


# -- examples with a test of their own ------------------------------------------------------------


def test_the_readme_diagram_names_stages_that_exist(tmp_path):
    """README.md's "How it works": each stage it names is a part of nudge_build, and the
    lockfile and output root carry the config's own names."""
    (block,) = checked_by("test_the_readme_diagram_names_stages_that_exist")
    stages = {
        "config": "config.py",
        "api": "api.py",
        "flags": "flags.py",
        "platform table": "platforms/table.py",
        "render": "render.py",
        "write": "write.py",
        "merge": "merge/__init__.py",
    }
    for stage, module in stages.items():
        assert re.search(rf"\b{stage}\b", block.text), stage
        assert (ROOT / "nudge_build" / module).is_file(), module
    config = load_config(write_project(tmp_path, "https://api.example.invalid"), {})
    assert f"lockfile ({config.output.lockfile.name})" in block.text
    assert "output.root" in block.text and config.output.root == tmp_path / "nudge"


def test_the_development_commands_name_what_exists():
    """docs/development.md: every module, script and extra its commands name exists. They are
    not run: they run this suite, the benchmark and CI from inside the suite."""
    (block,) = checked_by("test_the_development_commands_name_what_exists")
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "optional-dependencies"
    ]
    checked = 0
    for line in block.text.splitlines():
        for part in line.split("&&"):
            words = shlex.split(part, comments=True)
            checked += 1
            if words[:2] in (["python", "-m"], ["python3", "-m"]):
                assert words[2] == "venv" or importlib.util.find_spec(words[2]), words
            elif words[0] in ("python", "bash"):
                assert (ROOT / words[1]).is_file(), words
            elif words[:2] == ["pip", "install"]:
                assert set(re.findall(r"\[(\w+)\]", words[-1])) <= set(extras), words
            else:
                assert words == [".", ".venv/bin/activate"], words
    assert checked >= 6


def test_the_finding_format_is_the_shape_of_each_finding(api, tmp_path, monkeypatch):
    """docs/verify.md: CLIENT: ARTIFACT: RULE: found FOUND; expected EXPECTED; fix: FIX."""
    (block,) = checked_by("test_the_finding_format_is_the_shape_of_each_finding")
    pattern = re.escape(block.text.strip())
    for word in ("CLIENT", "ARTIFACT", "RULE", "FOUND", "EXPECTED", "FIX"):
        pattern = pattern.replace(word, f"(?P<{word.lower()}>.+)", 1)
    command = "nudge-build verify harbor-bank --android build/harbor-bank/app.apk"
    project = android_apps_with_background_location(tmp_path, api, block, command)
    monkeypatch.chdir(project.root)
    result = CliRunner().invoke(main, shlex.split(command)[1:], env=BASE_ENV)
    assert result.exit_code == 1, result.output
    *findings, count = result.stdout.splitlines()
    assert findings and count.startswith(f"verify: {len(findings)} finding(s)")
    for line in findings:
        match = re.fullmatch(pattern, line)
        assert match, line
        assert (match["client"], match["artifact"]) == ("harbor-bank", "build/harbor-bank/app.apk")


def installer_stubs(tmp_path: Path) -> tuple[Path, Path]:
    """A bin folder for a CI script: ``nudge-build`` (this checkout), and ``pip`` and
    ``python3 -m venv`` that install it without a network: pip checks that what it is asked to
    install is this package and logs it. Returns the folder and the log."""
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    log = tmp_path / "pip.log"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    (stubs / "nudge-build").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m nudge_build "$@"\n')
    (stubs / "pip.py").write_text(
        "import sys\n"
        "from packaging.requirements import Requirement\n"
        "args = [a for a in sys.argv[1:] if not a.startswith('-')]\n"
        "assert args[0] == 'install', args\n"
        "requirement = Requirement(args[1])\n"
        f"assert requirement.name == {project['name']!r}, requirement\n"
        "assert requirement.url.startswith('git+https://github.com/'), requirement\n"
        f"open({str(log)!r}, 'a').write(str(requirement) + '\\n')\n"
    )
    (stubs / "pip").write_text(f'#!/bin/sh\nexec "{sys.executable}" "{stubs}/pip.py" "$@"\n')
    (stubs / "python3").write_text(
        "#!/bin/sh\n"
        'if [ "$1 $2" = "-m venv" ]; then\n'
        '  mkdir -p "$3/bin" && cp "'
        + str(stubs)
        + '/pip" "'
        + str(stubs)
        + '/nudge-build" "$3/bin/"\n'
        "  exit\n"
        "fi\n"
        f'exec "{sys.executable}" "$@"\n'
    )
    for name in ("nudge-build", "pip", "python3"):
        (stubs / name).chmod(0o755)
    return stubs, log


def test_the_gitlab_jobs_build_every_shard_and_check(api, tmp_path):
    """docs/ci.md, GitLab CI: each of the parallel jobs builds its shard in its own checkout,
    together every client; the merge-request job checks a built project."""
    (block,) = checked_by("test_the_gitlab_jobs_build_every_shard_and_check")
    jobs = yaml.safe_load(block.text.replace("<org>", "example-org"))
    stubs, log = installer_stubs(tmp_path)
    build_job, check_job = jobs["nudge-config"], jobs["nudge-check"]
    built_clients: list[str] = []
    total = build_job["parallel"]
    for index in range(1, total + 1):
        # The CI/CD variables the page names: the client id and secret, the API keys.
        project = sample(tmp_path / f"job-{index}", api, block, "")
        node = {"CI_NODE_INDEX": str(index), "CI_NODE_TOTAL": str(total)}
        result = shell("\n".join(build_job["script"]), project.root, stubs, {**project.env, **node})
        assert result.returncode == 0, result.stdout + result.stderr
        out = project.root / "nudge"
        if out.is_dir():  # a shard may hold no client
            built_clients += [p.name for p in out.iterdir()]
            assert all((project.root / p).exists() for p in build_job["artifacts"]["paths"])
    assert sorted(built_clients) == sorted(SAMPLE_KEYS)
    project = built(tmp_path / "merge-request", api, block, "")
    result = shell("\n".join(check_job["script"]), project.root, stubs, project.env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(log.read_text().splitlines()) == total + 1


def test_the_bitrise_script_step_installs_and_builds(api, tmp_path):
    """docs/ci.md, Bitrise: the Script step's content passes shellcheck, makes its venv,
    installs this package into it and builds every client with the Secrets as environment."""
    (block,) = checked_by("test_the_bitrise_script_step_installs_and_builds")
    workflow = yaml.safe_load(block.text.replace("<org>", "example-org"))
    steps = [step for item in workflow["workflows"]["primary"]["steps"] for step in item.items()]
    scripts = [spec for name, spec in steps if name.startswith("script@")]
    (content,) = [i["content"] for spec in scripts for i in spec["inputs"] if "content" in i]
    script = tmp_path / "content.sh"
    script.write_text(content)
    linted = subprocess.run(
        [tool("shellcheck"), str(script)], capture_output=True, text=True, check=False
    )
    assert linted.returncode == 0, linted.stdout
    stubs, log = installer_stubs(tmp_path)
    project = sample(tmp_path / "source", api, block, "")
    env = {**project.env, "BITRISE_SOURCE_DIR": str(project.root)}
    result = shell(content, project.root, stubs, env, shell="/bin/bash")
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(p.name for p in (project.root / "nudge").iterdir()) == sorted(SAMPLE_KEYS)
    assert len(log.read_text().splitlines()) == 1


FASTLANE = """\
$calls = []
# A lane becomes a method, so that one lane calls another by its name, as in fastlane.
def lane(name, &block) = Object.send(:define_method, name) { |options = {}| block.call(options) }
def sh(*args)
  $calls << [Dir.pwd, *args].join(' ')
  system(*args) or abort("failed: #{args.join(' ')}")
end
def build_app(**options) = $calls << "build_app"
eval(File.read(ARGV.shift))
Dir.chdir(ARGV.shift)
nudge_config({shard: '1/2'})
release
puts $calls
"""


def test_the_fastlane_lanes_build_from_the_project_root(api, bindir, tmp_path):
    """docs/ci.md, fastlane: the lanes, run from fastlane/ as fastlane runs them (its `lane`,
    `sh` and `build_app` stood in for), run nudge-build at the project's root."""
    (block,) = checked_by("test_the_fastlane_lanes_build_from_the_project_root")
    ruby = debian_tool("ruby", "ruby")
    project = sample(tmp_path / "app", api, block, "")
    (project.root / "fastlane").mkdir()
    (tmp_path / "Fastfile").write_text(block.text)
    (tmp_path / "fastlane.rb").write_text(FASTLANE)
    home = {"PATH": f"{bindir}{os.pathsep}/usr/bin:/bin", "HOME": str(tmp_path), "NO_COLOR": "1"}
    result = subprocess.run(
        [ruby, str(tmp_path / "fastlane.rb"), str(tmp_path / "Fastfile"), "fastlane"],
        cwd=project.root,
        env={**home, **project.env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    root = project.root.resolve()
    calls = [line for line in result.stdout.splitlines() if not line.startswith(("1 of", "5 of"))]
    assert f"{root} nudge-build build --shard 1/2" in calls
    assert calls[-2:] == [f"{root} nudge-build build", "build_app"]
    assert sorted(p.name for p in (project.root / "nudge").iterdir()) == sorted(SAMPLE_KEYS)


def test_the_faults_example_is_answered_and_survived(tmp_path):
    """docs/sandbox.md: the --faults file loads as the sandbox reads it; a build retries
    through the token endpoint's 503 and summit-cu's 503 with Retry-After and succeeds."""
    (block,) = checked_by("test_the_faults_example_is_answered_and_survived")
    path = tmp_path / "faults.json"
    path.write_text(block.text, encoding="utf-8")
    faults = load_faults(path)
    with Sandbox(client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as api:
        api.apply_faults(faults)
        config = write_project(tmp_path, api.base_url, clients=["summit-cu"])
        result = cli(config, "build", env=project_env())
        stats = api.stats
    assert result.exit_code == 0, result.output
    assert stats.token_requests == 2
    assert stats.org_requests == {"sbx-summit-cu": 2}


def test_the_flutter_build_commands_pass_the_clients_flavor_and_defines(built_examples):
    """docs/wiring-flutter.md: `flutter build … --flavor F --dart-define-from-file=PATH`: F is
    the client's flavor name and PATH a file the page's config writes. Not run: it needs the
    Flutter SDK."""
    (block,) = checked_by("test_the_flutter_build_commands_pass_the_clients_flavor_and_defines")
    project = built_examples(block_above(block, "config"))
    commands = [shlex.split(c) for c in block.text.replace("\\\n", " ").splitlines()]
    assert len(commands) == 2
    for words in commands:
        assert words[:2] == ["flutter", "build"] and words[2] in ("ipa", "appbundle"), words
        flavor = words[words.index("--flavor") + 1]
        (defines,) = [w.split("=", 1)[1] for w in words if w.startswith("--dart-define-from-file=")]
        assert (project.root / defines).is_file(), defines
        assert flavor == android_flavor_name(Path(defines).parts[1])


def test_the_dart_defines_are_keys_of_every_clients_defines_file(built_examples):
    """docs/wiring-flutter.md: the names the Dart code reads are in every client's
    nudge_defines.json, every value a JSON string, each as the code and comment expect."""
    (block,) = checked_by("test_the_dart_defines_are_keys_of_every_clients_defines_file")
    project = built_examples(block_above(block, "config"))
    reads = re.findall(r"(bool|String)\.fromEnvironment\('(\w+)'\)", block.text)
    modes = re.search(r"NUDGE_LOCATION'\); // (.*)", block.text)
    assert reads and modes
    files = sorted((project.root / "nudge").glob("*/flutter/nudge_defines.json"))
    assert len(files) == len(SAMPLE_KEYS)
    for path in files:
        defines = json.loads(path.read_text(encoding="utf-8"))
        assert all(isinstance(value, str) for value in defines.values()), path
        for kind, name in reads:
            assert name in defines, (path, name)
            assert kind == "String" or defines[name] in ("true", "false")
        assert defines["NUDGE_LOCATION"] in modes[1].split(" | ")


def test_the_flutter_xcconfig_includes_the_clients_settings(built_examples):
    """docs/wiring-flutter.md: the flavor's xcconfig includes Flutter's own file of its build
    configuration and the client's Nudge.xcconfig (relative to itself), and points
    INFOPLIST_FILE (relative to ios/) at the Info.plist the page's [merge] edits. Not run: it
    needs Xcode."""
    (block,) = checked_by("test_the_flutter_xcconfig_includes_the_clients_settings")
    config_block = block_above(block, "config")
    project = built_examples(config_block)
    first, *lines = block.text.strip().splitlines()
    path = project.root / first.removeprefix("// ")
    assert path.parent == project.root / "ios" / "Flutter"
    flavor, configuration = path.stem.split("-")
    includes = [m[1] for line in lines if (m := re.fullmatch(r'#include "(.*)"', line))]
    assert includes[0] == f"{configuration}.xcconfig"  # Flutter's, beside it
    nudge = (path.parent / includes[1]).resolve()
    assert nudge.is_file(), nudge
    client = nudge.relative_to(project.root / "nudge").parts[0]
    assert flavor == android_flavor_name(client)
    settings = dict(line.split(" = ", 1) for line in lines if " = " in line)
    pattern = tomllib.loads(config_block.text)["merge"]["info_plist"]
    info_plist = project.root / "ios" / settings["INFOPLIST_FILE"]
    assert info_plist == project.root / pattern.replace("{client}", client)
    assert info_plist.is_file()


def test_extra_nudge_holds_the_keys_the_expo_example_reads(built_examples):
    """docs/wiring-expo.md: `const { enabled, location, organizationId } = …extra.nudge` names
    keys every client's app.config.nudge.json holds, with the values its comment lists."""
    (block,) = checked_by("test_extra_nudge_holds_the_keys_the_expo_example_reads")
    project = built_examples(block_above(block, "config"))
    names = re.search(r"const \{ (.*?) \} = Constants\.expoConfig\.extra\.nudge;", block.text)
    assert names
    files = sorted((project.root / "nudge").glob("*/expo/app.config.nudge.json"))
    assert len(files) == len(SAMPLE_KEYS)
    for path in files:
        nudge = json.loads(path.read_text(encoding="utf-8"))["extra"]["nudge"]
        assert set(names[1].split(", ")) <= set(nudge), path
        assert nudge["enabled"] in (True, False)
        assert nudge["location"] in (False, "foreground", "background")
    assert "enabled: true | false; location: false | 'foreground' | 'background'" in block.text


def test_artifact_paths_in_examples_follow_the_flavor_and_configuration_names():
    """Gradle names a variant's outputs after its flavor (harbor-bank → harborBank), Xcode its
    products folder after the build configuration (Release-<client>, as docs/wiring-ios.md sets
    them up): the paths the verify examples of docs/verify.md and docs/ci.md name follow."""
    (verify,) = [b for b in BLOCKS if b.page == "docs/verify.md" and b.lang == "sh"]
    flavor = android_flavor_name("harbor-bank")
    task = flavor[0].upper() + flavor[1:]
    assert f"/merged_manifests/{flavor}Release/process{task}ReleaseManifest/" in verify.text
    assert "`Release-prairie-fcu`" in (ROOT / "docs" / "wiring-ios.md").read_text(encoding="utf-8")
    assert "/Release-harbor-bank-iphoneos/" in verify.text
    (step,) = [b for b in BLOCKS if b.page == "docs/ci.md" and "command: verify" in b.text]
    client = re.search(r"clients: (\S+)", step.text)
    assert client
    flavor = android_flavor_name(client[1])
    assert f"android: app/build/outputs/apk/{flavor}/release/app-{flavor}-release.apk" in step.text
