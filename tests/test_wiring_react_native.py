"""docs/wiring-react-native.md, recipe by recipe, against the real readers: the example block is
what ``merge_dotenv`` writes, the spelling table is what ``encode`` does, and the ENVFILE,
``envConfigFiles`` and Podfile recipes pick the client's file when react-native-config's own
iOS codegen (Ruby) and dotenv.gradle (Groovy) run them."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from nudge_build.formats import encode
from nudge_build.merge.dotenv import BEGIN, END, merge_dotenv
from nudge_build.platforms.names import android_flavor_name
from nudge_build.readers.dotenv import read_env
from tests.platform_tools import debian_tool, node, npm_modules
from tests.rn_readers import run_dotenv_gradle, run_ios_codegen

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "wiring-react-native.md"
TEXT = DOC.read_text(encoding="utf-8")
GOLDEN = ROOT / "tests" / "golden"


def blocks(language: str) -> list[str]:
    """The doc's fenced code blocks tagged ``language`` ("" for untagged ones), in order."""
    found: list[str] = []
    tag: str | None = None
    lines: list[str] = []
    for line in TEXT.splitlines(keepends=True):
        if line.startswith("```"):
            if tag is None:
                tag, lines = line[3:].strip(), []
            else:
                if tag == language:
                    found.append("".join(lines))
                tag = None
        elif tag is not None:
            lines.append(line)
    return found


def envfile_of(client: str) -> str:
    return f"env/{client}.env"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An app root as the doc lays it out: env/<client>.env merged, a stray .env, android/."""
    root = tmp_path_factory.mktemp("rn-app")
    (root / "android").mkdir()
    (root / "env").mkdir()
    (root / ".env").write_text("WHICH=dot-env\n")
    (root / "env" / "summit.env").write_text(
        "WHICH=summit\n"
    )  # a flavor named like summitCu's start
    for client in ("prairie-fcu", "summit-cu"):
        golden = (GOLDEN / client / "react-native" / "nudge.env").read_text(encoding="utf-8")
        entries = list(read_env(golden).items())
        partner = f"WHICH={client}\n".encode()
        merged = merge_dotenv(partner, entries, where=envfile_of(client))
        (root / envfile_of(client)).write_bytes(merged)
    return root


FLAVOR_TASKS = {
    "assemblePrairieFcuRelease": "prairie-fcu",
    ":app:bundlePrairieFcuRelease": "prairie-fcu",
    "installSummitCuDebug": "summit-cu",
}
PREFIX_CASES = [
    ("assembleSummitCuRelease", "summit=env/summit.env,summitCu=env/summit-cu.env", "summit"),
    ("assembleSummitCuRelease", "summitCu=env/summit-cu.env,summit=env/summit.env", "summit-cu"),
    ("assembleSummitRelease", "summitCu=env/summit-cu.env,summit=env/summit.env", "summit"),
]


def doc_flavor_map() -> list[tuple[str, str]]:
    mapping = re.findall(r'^\s+(\w+): "([^"]+)",$', blocks("groovy")[0], re.MULTILINE)
    assert mapping, blocks("groovy")[0]
    return mapping


@pytest.fixture(scope="module")
def android(app: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """One run of dotenv.gradle over every case below that needs no ENVFILE in the environment
    (a JVM start is the slow part): the doc's flavor map per task, the prefix cases, and a
    misspelled ENVFILE (as -DENVFILE, the other way dotenv.gradle takes it)."""
    root = app / "android"
    spec = ",".join(f"{flavor}={path}" for flavor, path in doc_flavor_map())
    cases = [f"{root}|{task}||{spec}" for task in FLAVOR_TASKS]
    cases += [f"{root}|{task}||{mapping}" for task, mapping, _ in PREFIX_CASES]
    cases.append(f"{root}|assembleRelease|env/prairie-fcu.nev|")
    results, log = run_dotenv_gradle(cases, tmp_path_factory.mktemp("gradle"))
    return {
        "flavors": results[: len(FLAVOR_TASKS)],
        "prefix": results[len(FLAVOR_TASKS) : -1],
        "misspelled": results[-1],
        "log": log,
    }


def test_the_example_block_is_what_the_merge_writes() -> None:
    example = blocks("")[0]
    assert BEGIN.decode() in example and END.decode() in example
    partner, _, _ = example.partition(BEGIN.decode())
    golden = (GOLDEN / "prairie-fcu" / "react-native" / "nudge.env").read_text(encoding="utf-8")
    merged = merge_dotenv(partner.encode(), list(read_env(golden).items()), where="x.env")
    assert merged.decode() == example
    assert 'dotenv = "env/{client}.env"' in blocks("toml")[0]


def test_the_spelling_table_is_what_encode_does() -> None:
    rows = re.findall(r"^\| [^|]+ \| [^`|]*`([A-Z_]+=)?([^`]+)`[^|]*\|$", TEXT, re.MULTILINE)
    spellings = [spelled for _, spelled in rows]
    assert spellings == ["true", "'Save $5 # today'", '"O\'Hare #1"', "'say \"it's\"'"]
    for spelled in spellings:
        value = spelled[1:-1] if spelled[0] in "'\"" else spelled
        assert encode("env", value) == spelled


def test_envfile_on_the_command_line_picks_the_client_on_both_platforms(
    app: Path, tmp_path: Path
) -> None:
    commands = blocks("sh")[0].splitlines()
    assert commands == [
        "ENVFILE=env/prairie-fcu.env npx react-native run-ios",
        "ENVFILE=env/prairie-fcu.env npx react-native run-android",
    ]
    envfile = commands[0].split()[0].removeprefix("ENVFILE=")
    ios, _ = run_ios_codegen(app, tmp_path, envfile=envfile)
    assert ios["WHICH"] == "prairie-fcu"
    assert ios["NUDGE_ORGANIZATION_ID"] == "org_8f3a2c"
    # ENVFILE wins over envConfigFiles, too.
    cases = [f"{app / 'android'}|assembleSummitCuRelease||summitcu=env/summit-cu.env"]
    (android,), _ = run_dotenv_gradle(cases, tmp_path, envfile=envfile)
    assert android["field"]["WHICH"] == "prairie-fcu"


def test_a_misspelled_envfile_falls_back_silently_as_the_doc_warns(
    app: Path, android: dict[str, object], tmp_path: Path
) -> None:
    ios, log = run_ios_codegen(app, tmp_path, envfile="env/prairie-fcu.nev")
    assert ios["WHICH"] == "dot-env"
    assert "ENVFILE was set, but that file is missing" in log
    misspelled = android["misspelled"]
    assert isinstance(misspelled, dict)
    assert misspelled["field"] == {}
    assert "Missing .env file" in str(android["log"])
    assert "Android builds with an\nempty config" in TEXT


def test_the_flavor_map_picks_each_clients_file(android: dict[str, object]) -> None:
    assert (
        blocks("groovy")[0]
        .rstrip()
        .endswith(
            "apply from: project(':react-native-config').projectDir.getPath() + \"/dotenv.gradle\""
        )
    )
    for flavor, path in doc_flavor_map():
        client = path.removeprefix("env/").removesuffix(".env")
        assert flavor == android_flavor_name(client)
    flavors = android["flavors"]
    assert isinstance(flavors, list)
    assert [r["field"]["WHICH"] for r in flavors] == list(FLAVOR_TASKS.values())


def test_a_flavor_named_like_the_start_of_another_needs_to_come_later(
    android: dict[str, object],
) -> None:
    prefix = android["prefix"]
    assert isinstance(prefix, list)
    assert [r["field"]["WHICH"] for r in prefix] == [expected for _, _, expected in PREFIX_CASES]
    assert "list the longer one first" in TEXT


def test_the_podfile_hook_sets_each_configurations_envfile(app: Path, tmp_path: Path) -> None:
    ruby = debian_tool("ruby", "ruby")
    snippet = tmp_path / "podfile_snippet.rb"
    snippet.write_text(blocks("ruby")[0])
    # CocoaPods' objects, as far as the hook touches them.
    runner = tmp_path / "run_hook.rb"
    runner.write_text(
        "Config = Struct.new(:name, :build_settings)\n"
        "Target = Struct.new(:name, :build_configurations)\n"
        "def post_install(&hook)\n  $hook = hook\nend\n"
        "eval(File.read(ARGV.shift))\n"
        "configs = ARGV.map { |name| Config.new(name, {}) }\n"
        "others = [Config.new('Debug-prairieFcu', {})]\n"
        "targets = [Target.new('react-native-config', configs), Target.new('App', others)]\n"
        "installer = Struct.new(:pods_project).new(Struct.new(:targets).new(targets))\n"
        "$hook.call(installer)\n"
        "abort('touched another target') unless others[0].build_settings.empty?\n"
        "configs.each { |c| puts \"#{c.name}\\t#{c.build_settings['ENVFILE']}\" }\n"
    )
    names = ["Debug-prairieFcu", "Release-prairieFcu", "Release-summitCu", "Debug"]
    result = subprocess.run(
        [ruby, str(runner), str(snippet), *names],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    settings = dict(line.split("\t") for line in result.stdout.splitlines())
    assert settings == {
        "Debug-prairieFcu": "env/prairie-fcu.env",
        "Release-prairieFcu": "env/prairie-fcu.env",
        "Release-summitCu": "env/summit-cu.env",
        "Debug": ".env",
    }
    ios, _ = run_ios_codegen(app, tmp_path, envfile=settings["Release-summitCu"])
    assert ios["WHICH"] == "summit-cu"


def test_the_dotenv_line_loads_the_clients_values(app: Path, tmp_path: Path) -> None:
    (line,) = blocks("js")[0].strip().splitlines()
    script = tmp_path / "load.js"
    script.write_text(
        f"process.chdir({json.dumps(str(app))});\n{line}\n"
        "process.stdout.write(JSON.stringify([process.env.WHICH, process.env.NUDGE_LOCATION]));\n"
    )
    env = {"NODE_PATH": str(npm_modules()), "DOTENV_CONFIG_QUIET": "true", "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [node(), str(script)], capture_output=True, text=True, check=True, env=env, timeout=60
    )
    assert json.loads(result.stdout) == ["prairie-fcu", "background"]
