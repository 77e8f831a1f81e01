"""React Native's env-file readers, run for real: the npm ``dotenv`` package (Node), the iOS
codegen of react-native-config (BuildDotenvConfig.rb + ReadDotEnv.rb, Ruby) and its Android
script (dotenv.gradle, Groovy), all from ``tests/npm``'s pinned packages."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

from tests.platform_tools import NPM_DIR, debian_tool, npm_modules, run_node

GROOVY_HARNESS = Path(__file__).parent / "groovy" / "DotenvGradle.groovy"
DOTENV_JS = NPM_DIR / "read_dotenv.js"


def read_with_dotenv(*files: Path) -> dict[str, dict[str, dict[str, str]]]:
    """File name -> {"parse": dotenv.parse(text), "fast": dotenv.parse(text, {fast: true})}."""
    output = run_node(DOTENV_JS, *map(str, files))
    return {Path(name).name: reading for name, reading in json.loads(output).items()}


def _objc_string(body: str) -> str:
    """An Objective-C string literal's body as the compiler reads it (the escapes the
    react-native-config codegen can produce: it writes '"' as '\\"' and copies the rest)."""
    escapes = {'"': '"', "\\": "\\", "n": "\n", "t": "\t", "r": "\r"}
    return re.sub(r"\\(.)", lambda m: escapes[m[1]], body)


def run_ios_codegen(project: Path, tmp: Path, *, envfile: str | None) -> tuple[dict[str, str], str]:
    """``Config`` in the iOS app, and the build log: the pod's codegen phase run as its podspec
    runs it (the app's root as first argument, ENVFILE from the build's environment), then the
    generated ``DOT_ENV`` dictionary read as Objective-C string literals."""
    ruby = debian_tool("ruby", "ruby")
    assert not Path("/tmp/envfile").exists(), (
        "/tmp/envfile exists: react-native-config's iOS codegen reads it before ENVFILE; remove it"
    )
    script = npm_modules() / "react-native-config/ios/ReactNativeConfig/BuildDotenvConfig.rb"
    out = tmp / f"ios-{len(list(tmp.glob('ios-*')))}"
    out.mkdir(parents=True)
    env = {key: value for key, value in os.environ.items() if key != "ENVFILE"}
    env["BUILD_DIR"] = str(out)
    if envfile is not None:
        env["ENVFILE"] = envfile
    result = subprocess.run(
        [ruby, str(script), str(project), str(out)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    generated = (out / "GeneratedDotEnv.m").read_text(encoding="utf-8")
    found = re.search(r"#define DOT_ENV @\{ (.*) \};\n", generated)
    assert found is not None, generated
    literals = re.findall(r'@"((?:[^"\\]|\\.)*)"', found[1])
    pairs = [_objc_string(body) for body in literals]
    return dict(zip(pairs[::2], pairs[1::2], strict=True)), result.stdout


def _java_string(literal: str) -> str:
    assert literal.startswith('"') and literal.endswith('"'), literal
    return re.sub(r'\\(["\\])', r"\1", literal[1:-1])


def _unescape_harness(text: str) -> str:
    return (
        re.sub(r"\\u([0-9a-f]{4})", lambda m: chr(int(m[1], 16)), text)
        .encode("utf-16", "surrogatepass")
        .decode("utf-16")
    )


def run_dotenv_gradle(
    cases: list[str], tmp: Path, *, envfile: str | None = None
) -> tuple[list[dict[str, dict[str, str]]], str]:
    """react-native-config's android/dotenv.gradle, unmodified, once per case (see the harness
    for the case syntax), and the build log. Per case: ``read`` (its env map), ``field`` (the
    BuildConfig String the app reads, decoded from the Java literal it declares) and ``res``
    (the raw resValue)."""
    groovy = debian_tool("groovy", "groovy")
    env = {key: value for key, value in os.environ.items() if key != "ENVFILE"}
    if envfile is not None:
        env["ENVFILE"] = envfile
    if not Path("/usr/lib/jvm/default-java/bin/java").exists():
        # Debian's groovy launcher looks there unless told; any installed JDK will do.
        java = shutil.which("java") or debian_tool("java", "default-jre-headless")
        env["JAVA_HOME"] = str(Path(java).resolve().parents[1])
    gradle = npm_modules() / "react-native-config/android/dotenv.gradle"
    out = tmp / f"gradle-{len(list(tmp.glob('gradle-*')))}.txt"
    result = subprocess.run(
        [groovy, str(GROOVY_HARNESS), str(out), str(gradle), *cases],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    results: list[dict[str, dict[str, str]]] = []
    for line in out.read_text(encoding="utf-8").splitlines():
        if line.startswith("CASE "):
            results.append({"read": {}, "field": {}, "res": {}})
            continue
        kind, name, value = line.split("\t")
        value = _unescape_harness(value)
        results[-1][kind][_unescape_harness(name)] = (
            _java_string(value) if kind == "field" else value
        )
    return results, result.stdout
