"""nudge's block inside the partner's ``.env``: every other byte kept, one block only, nothing
rewritten that needs no change. What the readers make of the result: tests/test_env_readers.py."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nudge_build.errors import ConfigError
from nudge_build.merge.dotenv import BEGIN, END, dotenv_part, merge_dotenv
from nudge_build.readers.dotenv import read_env

WHERE = "env/prairie-fcu.env"
ENTRIES = [("NUDGE_ENABLED", "true"), ("NUDGE_LOCATION", "background"), ("NUDGE_NAME", "O'Hare #1")]
BLOCK = (
    b"# >>> nudge-build >>>\n"
    b"NUDGE_ENABLED=true\n"
    b"NUDGE_LOCATION=background\n"
    b'NUDGE_NAME="O\'Hare #1"\n'
    b"# <<< nudge-build <<<\n"
)
PARTNER = b"# partner\nAPI_URL=https://api.example.com\nexport QUOTED='a # b'\n\n"


def test_the_block_is_appended_after_the_partners_lines() -> None:
    merged = merge_dotenv(PARTNER, ENTRIES, where=WHERE)
    assert merged == PARTNER + BLOCK
    assert read_env(BLOCK.decode())["NUDGE_NAME"] == "O'Hare #1"


def test_a_file_without_a_final_newline_gets_one_before_the_block() -> None:
    assert merge_dotenv(b"A=1", ENTRIES, where=WHERE) == b"A=1\n" + BLOCK


def test_no_file_yet_gives_the_block_alone() -> None:
    assert merge_dotenv(None, ENTRIES, where=WHERE) == BLOCK
    assert merge_dotenv(b"", ENTRIES, where=WHERE) == BLOCK


def test_an_existing_block_is_replaced_where_it_stands() -> None:
    old_block = b"# >>> nudge-build >>>\nNUDGE_ENABLED=false\nNUDGE_OLD=1\n# <<< nudge-build <<<\n"
    before, after = b"A=1\n# note\n", b"Z=26\n# the end"
    merged = merge_dotenv(before + old_block + after, ENTRIES, where=WHERE)
    assert merged == before + BLOCK + after


def test_an_unchanged_file_comes_back_identical() -> None:
    once = merge_dotenv(PARTNER, ENTRIES, where=WHERE)
    assert merge_dotenv(once, ENTRIES, where=WHERE) == once
    # A block closing the file without a newline stays that way.
    tail = PARTNER + BLOCK[:-1]
    assert merge_dotenv(tail, ENTRIES, where=WHERE) == tail


def test_crlf_files_keep_crlf() -> None:
    partner = b"A=1\r\nB=two\r\n"
    entries = [("NUDGE_ENABLED", "true"), ("NUDGE_LOCATION", "foreground")]
    merged = merge_dotenv(partner, entries, where=WHERE)
    assert merged == (
        partner + b"# >>> nudge-build >>>\r\nNUDGE_ENABLED=true\r\n"
        b"NUDGE_LOCATION=foreground\r\n# <<< nudge-build <<<\r\n"
    )
    assert merge_dotenv(merged, entries, where=WHERE) == merged
    assert dotenv_part(merged) == dotenv_part(merged.replace(b"\r\n", b"\n"))


@pytest.mark.parametrize("value", ["two words", "O'Hare"], ids=["single", "double"])
def test_a_crlf_file_cannot_take_a_quoted_value(value: str) -> None:
    # react-native-config's iOS reader keeps the closing quote on a CRLF line (shown with real
    # Ruby in tests/test_env_readers.py::test_a_crlf_line_loses_its_quotes_only_on_ios).
    # "two words" is spelled in single quotes, "O'Hare" in double quotes: both are refused.
    with pytest.raises(ConfigError) as error:
        merge_dotenv(b"A=1\r\n", [("NUDGE_NAME", value)], where=WHERE)
    assert str(error.value) == (
        f"{WHERE}: has CRLF line endings, and NUDGE_NAME's value needs quotes, which "
        "react-native-config's iOS reader misreads on a CRLF line (it keeps the closing quote); "
        "convert the file to LF line endings"
    )
    assert error.value.file == WHERE


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        (b"A=1\n" + BEGIN + b"\nN=1\n", 2, "the block opened here is never closed"),
        (b"A=1\n" + END + b"\n", 2, f"'{END.decode()}' comes before any '{BEGIN.decode()}'"),
        (
            BEGIN + b"\n" + BEGIN + b"\n" + END + b"\n",
            2,
            "the block opened at line 1 is not closed",
        ),
        (
            BEGIN + b"\n" + END + b"\nA=1\n" + BEGIN + b"\n" + END + b"\n",
            4,
            "a second block starts here (the first at line 1)",
        ),
        (END + b"\n" + BEGIN + b"\n", 1, f"'{END.decode()}' comes before any"),
    ],
)
def test_damaged_blocks_are_refused_naming_file_and_line(
    text: bytes, line: int, problem: str
) -> None:
    for call in (
        lambda: merge_dotenv(text, ENTRIES, where=WHERE),
        lambda: dotenv_part(text, where=WHERE),
    ):
        with pytest.raises(ConfigError) as error:
            call()
        assert str(error.value).startswith(f"{WHERE}:{line}: {problem}")
        assert (error.value.file, error.value.line, error.value.exit_code) == (WHERE, line, 2)


@pytest.mark.parametrize(
    "line",
    [
        b"NUDGE_ENABLED=false",
        b"export NUDGE_ENABLED=1",
        b"  NUDGE_ENABLED = x",
        b"NUDGE_ENABLED: x",
    ],
)
def test_a_nudge_key_that_the_partner_also_sets_is_refused(line: bytes) -> None:
    text = b"A=1\n" + line + b"\n" + BLOCK
    with pytest.raises(ConfigError) as error:
        merge_dotenv(text, ENTRIES, where=WHERE)
    assert str(error.value) == (
        f"{WHERE}:2: NUDGE_ENABLED is set here and in the nudge-build block; which one the app "
        "gets depends on the reader (dotenv, react-native-config on iOS or Android), so remove "
        "this line and let nudge-build write NUDGE_ENABLED"
    )
    assert (error.value.file, error.value.line) == (WHERE, 2)


def test_a_nudge_key_set_by_the_partner_after_the_block_is_refused() -> None:
    # Only the block's own lines are skipped: the line right after it is the partner's again.
    text = b"A=1\n" + BLOCK + b"NUDGE_LOCATION=off\nZ=26\n"
    with pytest.raises(ConfigError) as error:
        merge_dotenv(text, ENTRIES, where=WHERE)
    assert str(error.value).startswith(f"{WHERE}:7: NUDGE_LOCATION is set here and in the")
    assert (error.value.file, error.value.line) == (WHERE, 7)


def test_other_keys_and_comments_naming_a_nudge_key_are_fine() -> None:
    text = (
        b"# NUDGE_ENABLED=true is written by nudge-build\nNUDGE_ENABLED_X=1\nMY_NUDGE_ENABLED=2\n"
    )
    assert merge_dotenv(text, ENTRIES, where=WHERE) == text + BLOCK


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([("NUDGE_NAME", "C:\\path")], f"{WHERE}: NUDGE_NAME contains a backslash, which dotenv"),
        ([("NUDGE_NAME", "a\nb")], f"{WHERE}: NUDGE_NAME contains a newline"),
        (
            [("NUDGE_NAME", 'it\'s "#1"')],
            f"{WHERE}: NUDGE_NAME contains both quote characters and a '#'",
        ),
        (
            [("NUDGE.NAME", "x")],
            f"{WHERE}: 'NUDGE.NAME' cannot be a .env key for react-native-config (letters, "
            "digits and '_', not starting with a digit)",
        ),
        ([("N", "1"), ("N", "2")], f"{WHERE}: nudge-build would write N twice"),
    ],
)
def test_values_and_keys_no_reader_agrees_on_are_refused(
    entries: list[tuple[str, str]], message: str
) -> None:
    with pytest.raises(ConfigError) as error:
        merge_dotenv(PARTNER, entries, where=WHERE)
    assert str(error.value).startswith(message)
    assert error.value.file == WHERE  # where a GitHub annotation points


def test_a_file_that_is_not_utf8_is_refused() -> None:
    with pytest.raises(ConfigError) as error:
        merge_dotenv(b"A=1\nB=\xff\n", ENTRIES, where=WHERE)
    assert str(error.value) == f"{WHERE}:2: is not UTF-8 text (invalid start byte)"
    assert (error.value.file, error.value.line) == (WHERE, 2)  # where the annotation points


def test_dotenv_part_is_the_blocks_inside_only() -> None:
    merged = merge_dotenv(PARTNER, ENTRIES, where=WHERE)
    part = b'NUDGE_ENABLED=true\nNUDGE_LOCATION=background\nNUDGE_NAME="O\'Hare #1"\n'
    assert dotenv_part(merged) == part
    # The partner's own edits are not nudge's: the part does not move.
    assert dotenv_part(b"NEW=1\n" + merged.replace(b"api.example", b"api2.example")) == part
    assert dotenv_part(merged.replace(b"background", b"foreground")) != part
    assert dotenv_part(PARTNER) == b""


def test_markers_with_blanks_around_them_are_still_markers() -> None:
    text = b"A=1\n  " + BEGIN + b" \r\nNUDGE_ENABLED=false\n" + END + b"\t\n"
    assert merge_dotenv(text, ENTRIES, where=WHERE) == b"A=1\n" + BLOCK


partner_lines = st.lists(
    st.one_of(
        st.sampled_from(["", "# c", "A=1", "export B='x y'", 'C="q"', "D=", " E = 5 ", "# >>> x"]),
        st.text(
            st.characters(blacklist_categories=["Cs"], blacklist_characters="\r\n"), max_size=12
        ),
    ),
    max_size=8,
)
values = st.text(
    st.characters(blacklist_categories=["Cc", "Cs"], blacklist_characters="\\\u2028\u2029"),
    max_size=12,
).filter(lambda v: not ("#" in v and "'" in v and '"' in v))


@settings(max_examples=200, deadline=None, database=None)
@given(partner_lines, st.booleans(), st.lists(values, min_size=1, max_size=4), st.booleans())
def test_merging_keeps_every_partner_byte_and_is_idempotent(
    lines: list[str], crlf: bool, block_values: list[str], final_newline: bool
) -> None:
    lines = [
        line
        for line in lines
        if line.strip() not in (BEGIN.decode(), END.decode()) and "NUDGE_" not in line
    ]
    newline = "\r\n" if crlf else "\n"
    text = newline.join(lines) + (newline if lines and final_newline else "")
    data = text.encode()
    entries = [(f"NUDGE_V{i}", value) for i, value in enumerate(block_values)]
    try:
        merged = merge_dotenv(data, entries, where=WHERE)
    except ConfigError as exc:
        assert crlf and "CRLF" in str(exc)
        return
    assert merged.startswith(data)  # every partner byte, in place
    added = merged[len(data) :]
    assert added.startswith(BEGIN) or (
        not data.endswith(b"\n") and added.lstrip(b"\r\n").startswith(BEGIN)
    )
    assert merge_dotenv(merged, entries, where=WHERE) == merged
    assert read_env(dotenv_part(merged).decode()) == dict(entries)
