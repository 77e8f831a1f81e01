"""docs/wiring-android.md against what nudge-build writes, and the flavor-name rule.

No Gradle here (no Android SDK or Maven), so the recipe's facts are checked instead: every
path and ``nudge.*`` key the Kotlin and Groovy snippets read exists in a real build's output,
the flavor table follows ``android_flavor_name`` and matches ``nudge.flavor``, and the snippets
use the AGP variant-API names that AGP's sources declare (``Sources.manifests: ManifestFiles``
with ``addStaticManifestFile(String)``, ``Sources.res: SourceDirectories.Layered?`` with
``addStaticSourceDirectory(String)``, ``VariantSelector.withFlavor(Pair)``).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from nudge_build.formats import read_properties
from nudge_build.platforms.names import (
    android_flavor_name,
    flavor_name_clashes,
    flavor_name_problem,
)
from nudge_build.sandbox import Sandbox
from tests.helpers import CLIENT_ID, CLIENT_SECRET, SAMPLE_KEYS, cli, project_env, write_project

DOC = Path(__file__).resolve().parent.parent / "docs" / "wiring-android.md"
TEXT = DOC.read_text(encoding="utf-8")
# nudge.applicationId is written only when the organization names one; the snippets read it
# conditionally.
OPTIONAL_KEYS = {"nudge.applicationId"}


def snippet(language: str) -> str:
    blocks = re.findall(rf"```{language}\n(.*?)```", TEXT, re.DOTALL)
    assert len(blocks) == 1, f"expected one {language} block in {DOC.name}"
    return str(blocks[0])


def flavor_table() -> dict[str, str]:
    rows = re.findall(r"^\| `([a-z0-9-]+)` \| `(\w+)` \|$", TEXT, re.MULTILINE)
    assert rows, "no client id -> flavor table"
    return dict(rows)


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real build of the sample clients with the default output root."""
    workdir = tmp_path_factory.mktemp("wiring")
    with Sandbox(client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as api:
        config = write_project(workdir, api.base_url, stock=["android"])
        result = cli(config, "build", env=project_env())
    assert result.exit_code == 0, result.output
    return workdir / "nudge"


def test_flavor_names_are_the_ids_words_in_lower_camel_case():
    assert android_flavor_name("prairie-fcu") == "prairieFcu"
    assert android_flavor_name("acme") == "acme"
    assert android_flavor_name("first-1st-bank") == "first1stBank"
    assert android_flavor_name("a--b-") == "aB"


def test_flavor_name_problems_and_clashes_are_named():
    assert flavor_name_problem("prairieFcu") is None
    for refused in ("main", "lint", "test", "testBank", "androidTest", "androidTestCu"):
        assert flavor_name_problem(refused) is not None, refused
    assert flavor_name_clashes(["a-b", "a--b", "c"]) == {"aB": ("a-b", "a--b")}
    assert flavor_name_clashes(SAMPLE_KEYS) == {}


def test_docs_flavor_table_follows_the_rule_and_lists_every_sample_client():
    table = flavor_table()
    assert set(SAMPLE_KEYS) <= set(table)
    for client_id, flavor in table.items():
        assert android_flavor_name(client_id) == flavor, client_id
    # The reserved names the page lists are the ones the rule refuses.
    for name in ("main", "lint"):
        assert f"`{name}`" in TEXT and flavor_name_problem(name) is not None
    for prefix in ("test", "androidTest"):
        assert f"`{prefix}`" in TEXT and flavor_name_problem(prefix + "X") is not None


def test_nudge_properties_carry_the_flavor_name_gradle_reads(out):
    table = flavor_table()
    for client_id in SAMPLE_KEYS:
        properties = read_properties(
            (out / client_id / "android" / "nudge.properties").read_text(encoding="ascii")
        )
        assert properties["nudge.clientId"] == client_id
        assert properties["nudge.flavor"] == table[client_id] == android_flavor_name(client_id)


@pytest.mark.parametrize("language", ["kotlin", "groovy"])
def test_snippet_reads_only_files_and_keys_that_nudge_build_writes(out, language):
    code = snippet(language)
    # The default output root: where a build without [output] wrote.
    assert re.search(r"""rootProject\.file\(['"]nudge['"]\)""", code)
    assert out.is_dir()
    paths = set(re.findall(r"""['"](android/[\w./]+)['"]""", code))
    assert paths == {"android/nudge.properties", "android/AndroidManifest.xml", "android/res"}
    keys = set(re.findall(r"""['"](nudge\.\w+)['"]""", code))
    assert "nudge.flavor" in keys
    for client_id in SAMPLE_KEYS:
        client = out / client_id
        for path in paths:
            assert (client / path).exists(), f"{client_id}: {path}"
        assert (client / "android/res").is_dir()
        written = read_properties((client / "android/nudge.properties").read_text(encoding="ascii"))
        assert keys - OPTIONAL_KEYS <= set(written), client_id
        assert keys <= set(written) | OPTIONAL_KEYS
    # The partner's flavor manifest stays: nothing replaces a source set's manifest.
    assert "srcFile" not in code


@pytest.mark.parametrize("language", ["kotlin", "groovy"])
def test_snippet_uses_the_agp_variant_api_names(language):
    code = snippet(language)
    assert "androidComponents {" in code
    assert "variant.sources.manifests.addStaticManifestFile(" in code
    assert "variant.sources.res?.addStaticSourceDirectory(" in code
    assert "onVariants(selector()." in code
    if language == "kotlin":
        assert 'selector().withFlavor("client" to flavor)' in code
    # The flavor dimension the productFlavors block declares is the one the variants match.
    assert re.search(r"""flavorDimensions \+= ['"]client['"]""", code)
    assert re.search(r"""dimension = ['"]client['"]""", code)


def test_every_flavor_defines_the_persistent_notification_strings(out):
    for client_id in SAMPLE_KEYS:
        strings = (out / client_id / "android/res/values/nudge_strings.xml").read_text("utf-8")
        for name in ("nudge_persistent_notification_title", "nudge_persistent_notification_text"):
            assert f'<string name="{name}"' in strings, client_id
            assert name in TEXT
