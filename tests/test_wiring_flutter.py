"""docs/wiring-flutter.md against a real build: every file, key and name the recipe uses.

No Flutter SDK here, so the recipe's facts are checked: the page's TOML is the config of a
real build over the sandbox; every path its commands and xcconfig name exists in that build
(relative to where Flutter and Xcode read them); the Dart names are keys of the defines file;
and the flavor name is the one nudge.properties carries.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path, PurePosixPath

import pytest

from nudge_build.formats import read_properties
from nudge_build.platforms.names import android_flavor_name
from nudge_build.sandbox import Sandbox
from tests.helpers import CLIENT_ID, CLIENT_SECRET, cli, project_env, write_project

DOC = Path(__file__).resolve().parent.parent / "docs" / "wiring-flutter.md"
TEXT = DOC.read_text(encoding="utf-8")
CLIENT = "prairie-fcu"


def blocks(language: str) -> list[str]:
    return [str(b) for b in re.findall(rf"```{language}\n(.*?)```", TEXT, re.DOTALL)]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The page's own TOML (output root, sets, merge) for the sample clients, built for real."""
    workdir = tmp_path_factory.mktemp("flutter")
    (toml,) = blocks("toml")
    page = tomllib.loads(toml)
    info_plist = page["merge"]["info_plist"]
    (workdir / "ios" / "Flutter").mkdir(parents=True)  # as `flutter create` makes it
    for client in ("prairie-fcu", "summit-cu"):
        plist = workdir / info_plist.replace("{client}", client)
        plist.parent.mkdir(parents=True)
        plist.write_bytes(
            b'<?xml version="1.0" encoding="UTF-8"?>\n<plist version="1.0">\n<dict>\n'
            b"\t<key>CFBundleName</key>\n\t<string>Runner</string>\n</dict>\n</plist>\n"
        )
    with Sandbox(client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as api:
        config = write_project(
            workdir, api.base_url, clients=["prairie-fcu", "summit-cu"], stock=()
        )
        text = config.read_text(encoding="utf-8").replace("[templates]\nstock = []\n", "")
        config.write_text(toml + "\n" + text, encoding="utf-8")
        result = cli(config, "build", env=project_env())
    assert result.exit_code == 0, result.output
    return workdir


def test_the_output_root_is_one_flutter_clean_keeps():
    page = tomllib.loads(blocks("toml")[0])
    assert not PurePosixPath(page["output"]["root"]).parts[0] == "build"


def test_the_flavor_name_is_the_one_nudge_properties_carries(project):
    flavor = android_flavor_name(CLIENT)
    assert flavor == "prairieFcu"
    properties = (project / "nudge" / CLIENT / "android" / "nudge.properties").read_text()
    assert read_properties(properties)["nudge.flavor"] == flavor
    (commands,) = blocks("sh")
    assert commands.count(f"--flavor {flavor}") == 2


def test_the_dart_define_file_exists_and_holds_the_names_dart_reads(project):
    (commands,) = blocks("sh")
    paths = set(re.findall(r"--dart-define-from-file=(\S+)", commands))
    assert paths == {f"nudge/{CLIENT}/flutter/nudge_defines.json"}
    defines = json.loads((project / paths.pop()).read_text())
    # --dart-define-from-file passes every value as a string: the page says so.
    assert all(isinstance(value, str) for value in defines.values())
    (dart,) = blocks("dart")
    read = set(re.findall(r"fromEnvironment\('(\w+)'\)", dart))
    assert read and read <= set(defines)
    assert defines["NUDGE_LOCATION"] in ("false", "foreground", "background")
    assert defines["NUDGE_ENABLED"] in ("true", "false")


def test_the_xcconfig_includes_and_info_plist_resolve_in_the_build(project):
    (xcconfig,) = blocks("xcconfig")
    name = re.search(r"// (ios/Flutter/\S+\.xcconfig)", xcconfig)
    assert name is not None
    here = (project / name.group(1)).parent
    includes = re.findall(r'#include "([^"]+)"', xcconfig)
    nudge = [i for i in includes if "nudge/" in i]
    assert nudge == [f"../../nudge/{CLIENT}/ios/Nudge.xcconfig"]
    assert (here / nudge[0]).resolve() == (project / "nudge" / CLIENT / "ios" / "Nudge.xcconfig")
    assert (here / nudge[0]).is_file()
    # INFOPLIST_FILE is relative to the Xcode project folder (ios/), and is the merge target.
    plist = re.search(r"INFOPLIST_FILE = (\S+)", xcconfig)
    assert plist is not None
    merged = project / "ios" / plist.group(1)
    assert merged.is_file()
    assert b"NSLocationWhenInUseUsageDescription" in merged.read_bytes()
