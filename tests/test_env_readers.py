"""The merged ``.env`` read by the real readers: the npm ``dotenv`` package, react-native-config's
iOS codegen (BuildDotenvConfig.rb + ReadDotEnv.rb, run with Ruby) and its Android script
(dotenv.gradle, run with Groovy). Every value nudge-build writes reaches the app exactly; the
partner's own lines read as before; what is refused is what no spelling carries.

Each reader runs once per module over a file holding every value (explicit hostile ones and a
seeded random batch); the hypothesis tests cover the Python model of the same readers, which the
real ones are checked against here.
"""

from __future__ import annotations

import random
import unicodedata
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nudge_build.formats import ValueRefused, encode, format_for
from nudge_build.merge.dotenv import merge_dotenv
from tests.rn_readers import read_with_dotenv, run_dotenv_gradle, run_ios_codegen

HOSTILE = [
    "plain", "", "true", "it's", 'say "hi"', "`tick`", "a#b", "#starts", "ends#", "a # b",
    "it's #1", 'say "#1"', "both ' and \" here", "'single'", '"double"', "'", '"', "''", "x'",
    "'x", "$HOME", "${HOME}", "$(PRODUCT_NAME)", "$$", "$1 cost $5", " lead", "trail ", "  ",
    " both ", "in  ner", "a=b", "=", "KEY=value", "export X=1", "https://example.com/?a=1#top",
    "//x///y", "x;", "100%", "%s %1$s", "é 中 😀", "\u00a0nbsp\u00a0", "\ufeffbom", "\u3000",
    "{{ 7*7 }}", "<&>", "a\\b", "ends\\", "\\n", "line\nbreak", "tab\tx", "cr\r", "\u2028",
]  # fmt: skip
PIECES = ["'", '"', "`", "#", "$", "${X}", "\\", " ", "  ", "=", ":", "é", "😀", "\u00a0", "a"]
PARTNER = (
    "# the partner's own settings\n"
    "API_URL=https://api.example.com/v1 # trailing comment\n"
    "export SENTRY_DSN='https://key@sentry.example.com/1'\n"
    'GREETING="Hello, world"\n'
    "\n"
    "EMPTY=\n"
)
PARTNER_READS = {
    "API_URL": "https://api.example.com/v1 # trailing comment",  # react-native-config: no comments
    "SENTRY_DSN": "https://key@sentry.example.com/1",
    "GREETING": "Hello, world",
    "EMPTY": "",
}


def _values() -> list[str]:
    rng = random.Random(11)
    randoms = ["".join(rng.choices(PIECES, k=rng.randint(1, 7))) for _ in range(300)]
    return HOSTILE + randoms


def _spellable(values: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    accepted: dict[str, str] = {}
    refused: dict[str, str] = {}
    for index, value in enumerate(values):
        try:
            encode("env", value)
        except ValueRefused as exc:
            refused[value] = str(exc)
        else:
            accepted[f"NUDGE_V{index}"] = value
    return accepted, refused


# --- one run of every reader over the merged file ------------------------------------------------


@pytest.fixture(scope="module")
def readings(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("rn-app")
    (root / "android").mkdir()
    (root / "env").mkdir()
    accepted, refused = _spellable(_values())
    partner = root / "env" / "partner.env"
    partner.write_text(PARTNER, encoding="utf-8")
    merged = root / "env" / "prairie-fcu.env"
    merged.write_bytes(
        merge_dotenv(PARTNER.encode(), list(accepted.items()), where="env/prairie-fcu.env")
    )
    # What the refusals and the CRLF rule rest on, read by the same readers.
    (root / "env" / "evidence.env").write_bytes(
        b"BACKSLASH='a\\\\b'\nNEWLINE_ESCAPE=\"a\\nb\"\n"
        b"CRLF_PLAIN=plain\r\nCRLF_QUOTED='quoted'\r\n"
    )
    tmp = tmp_path_factory.mktemp("readers")
    cases = [f"{root / 'android'}||{name}|" for name in ("env/prairie-fcu.env", "env/evidence.env")]
    gradle, _ = run_dotenv_gradle(cases, tmp)
    ios, _ = run_ios_codegen(root, tmp, envfile="env/prairie-fcu.env")
    ios_evidence, _ = run_ios_codegen(root, tmp, envfile="env/evidence.env")
    return {
        "accepted": accepted,
        "refused": refused,
        "merged": merged,
        "dotenv": read_with_dotenv(merged, partner, root / "env" / "evidence.env"),
        "ios": ios,
        "ios_evidence": ios_evidence,
        "android": gradle[0],
        "android_evidence": gradle[1],
    }


def test_the_hostile_values_are_mostly_carried(readings: dict[str, Any]) -> None:
    accepted, refused = readings["accepted"], readings["refused"]
    assert len(accepted) > 250
    for value in ["it's #1", 'say "#1"', "both ' and \" here", "$1 cost $5", " both ", "''"]:
        assert value in accepted.values()
    # Refused: what no spelling carries (backslashes, line breaks and other controls, and '#'
    # with both kinds of quote), and nothing else.
    for value, reason in refused.items():
        assert (
            "\\" in value
            or any(unicodedata.category(c) == "Cc" or c in "\u2028\u2029" for c in value)
            or ("#" in value and "'" in value and '"' in value)
        ), (value, reason)


def test_npm_dotenv_reads_every_value_exactly(readings: dict[str, Any]) -> None:
    merged = readings["dotenv"]["prairie-fcu.env"]
    expected = {**readings["dotenv"]["partner.env"]["parse"], **readings["accepted"]}
    assert merged["parse"] == expected
    assert merged["fast"] == expected  # dotenv's opt-in fast parser agrees


def test_the_ios_app_reads_every_value_exactly(readings: dict[str, Any]) -> None:
    assert readings["ios"] == {**PARTNER_READS, **readings["accepted"]}


def test_the_android_build_config_holds_every_value_exactly(readings: dict[str, Any]) -> None:
    android = readings["android"]
    assert android["field"] == {**PARTNER_READS, **readings["accepted"]}
    # dotenv.gradle's own map is the value with '"' escaped for the Java literal it declares.
    assert android["read"] == {k: v.replace('"', '\\"') for k, v in android["field"].items()}


def test_the_python_model_reads_the_merged_file_as_the_readers_do(
    readings: dict[str, Any],
) -> None:
    from nudge_build.readers.dotenv import read_dotenv_npm, read_env

    text = readings["merged"].read_text(encoding="utf-8")
    block = text[text.index("# >>> nudge-build >>>") :]
    assert read_env(block) == readings["accepted"]
    assert read_dotenv_npm(text) == readings["dotenv"]["prairie-fcu.env"]["parse"]


def test_a_backslash_has_no_spelling_that_every_reader_agrees_on(
    readings: dict[str, Any],
) -> None:
    dotenv = readings["dotenv"]["evidence.env"]["parse"]
    assert dotenv["BACKSLASH"] == "a\\\\b"  # kept as written
    assert readings["ios_evidence"]["BACKSLASH"] == "a\\b"  # an Objective-C escape
    assert readings["android_evidence"]["field"]["BACKSLASH"] == "a\\b"  # a Java escape
    assert dotenv["NEWLINE_ESCAPE"] == "a\nb"  # dotenv's only escape, in double quotes
    assert readings["ios_evidence"]["NEWLINE_ESCAPE"] == "a\nb"
    with pytest.raises(ValueRefused, match="backslash"):
        encode("env", "a\\b")


def test_a_crlf_line_loses_its_quotes_only_on_ios(readings: dict[str, Any]) -> None:
    """Why a CRLF file gets no quoted value (tests/test_merge_dotenv.py checks the refusal)."""
    assert readings["dotenv"]["evidence.env"]["parse"]["CRLF_QUOTED"] == "quoted"
    assert readings["android_evidence"]["field"]["CRLF_QUOTED"] == "quoted"
    assert readings["ios_evidence"]["CRLF_QUOTED"] == "quoted'"
    assert readings["ios_evidence"]["CRLF_PLAIN"] == "plain"


def test_read_dotenv_npm_agrees_with_dotenv_on_random_documents(tmp_path: Path) -> None:
    from nudge_build.readers.dotenv import read_dotenv_npm

    rng = random.Random(5)
    pieces = PIECES + ["\n", "\r\n", "\r", "export ", "K", "K=", "X: ", "\\n", "\t", "\u2028"]
    documents = ["".join(rng.choices(pieces, k=rng.randint(0, 30))) for _ in range(300)]
    files = []
    for index, document in enumerate(documents):
        path = tmp_path / f"doc{index}.env"
        path.write_bytes(document.encode("utf-8", "surrogatepass"))
        files.append(path)
    real = read_with_dotenv(*files)
    for path, document in zip(files, documents, strict=True):
        assert read_dotenv_npm(document) == real[path.name]["parse"], repr(document)


@settings(max_examples=300, deadline=None, database=None)
@given(st.one_of(st.text(), st.lists(st.sampled_from(PIECES)).map("".join)))
def test_every_spelled_value_reads_back_through_the_model(value: str) -> None:
    from nudge_build.readers.dotenv import read_env

    try:
        spelled = encode("env", value)
    except ValueRefused:
        return
    assert read_env(f"A=1\nNUDGE_VALUE={spelled}\nB=2\n") == {
        "A": "1",
        "NUDGE_VALUE": value,
        "B": "2",
    }


@pytest.mark.parametrize(
    ("value", "spelled"),
    [
        ("true", "true"),
        ("https://example.com/?a=1", "https://example.com/?a=1"),
        ("", ""),
        ("a#b", "'a#b'"),
        (" x ", "' x '"),
        ("$HOME", "'$HOME'"),
        ("it's #1", '"it\'s #1"'),
        ('it\'s "ok"', "'it's \"ok\"'"),
    ],
)
def test_env_spellings(value: str, spelled: str) -> None:
    assert encode("env", value) == spelled


def test_an_envrc_is_not_a_dotenv_file() -> None:
    # direnv's .envrc is shell; nudge-build must not apply .env spelling to it.
    assert format_for(".envrc") == "text"
    assert format_for("config/.envrc.j2") == "text"
    assert format_for("env/prairie-fcu.env") == "env"
    assert format_for(".env.staging") == "env"
