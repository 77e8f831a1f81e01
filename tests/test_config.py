"""Config errors: exit 2 and a message naming the file, the key and what was expected."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from nudge_build.cli import main

MINIMAL = """\
[api]
base_url = "https://api.nudge.example"

[clients.prairie-fcu]
api_key_env = "NUDGE_KEY_PRAIRIE"
"""


def run(tmp_path: Path, text: str | None, *args: str, env: dict[str, str] | None = None):
    config = tmp_path / "nudge-build.toml"
    if text is not None:
        config.write_text(text, encoding="utf-8")
    runner = CliRunner()
    return runner.invoke(main, ["--config", str(config), *args], env=env or {})


def test_missing_config_file_names_it_and_exits_2(tmp_path):
    result = run(tmp_path, None, "render")
    assert result.exit_code == 2
    assert f"error: {tmp_path / 'nudge-build.toml'}: no such config file" in result.output
    assert "Traceback" not in result.output


def test_bad_toml_names_file_and_line(tmp_path):
    result = run(tmp_path, "[api]\nbase_url = \n", "render")
    assert result.exit_code == 2
    assert "nudge-build.toml: invalid TOML" in result.output
    assert "line 2" in result.output


def test_unknown_key_names_table_key_and_suggests(tmp_path):
    result = run(tmp_path, MINIMAL.replace("[api]\n", "[api]\ntimout = 3\n"), "render")
    assert result.exit_code == 2
    assert "[api]: unknown key 'timout' (did you mean 'timeout'?)" in result.output


def test_wrong_type_names_key_and_expectation(tmp_path):
    result = run(tmp_path, MINIMAL.replace("[api]\n", '[api]\ntimeout = "10"\n'), "render")
    assert result.exit_code == 2
    assert "[api].timeout: expected a number of seconds greater than 0, got '10'" in result.output


@pytest.mark.parametrize(
    "client_id", ["Prairie", "../escape", "a/b", "a\\u0000b", "-leading", "with space", "a.b"]
)
def test_bad_client_id_is_a_config_error(tmp_path, client_id):
    text = f'[api]\nbase_url = "https://x.example"\n[clients."{client_id}"]\napi_key = "k"\n'
    result = run(tmp_path, text, "render")
    assert result.exit_code == 2, result.output
    assert "is not a slug" in result.output


def test_http_to_a_remote_host_is_refused(tmp_path):
    result = run(tmp_path, MINIMAL.replace("https://", "http://"), "render")
    assert result.exit_code == 2
    assert "http:// is only allowed to a loopback host" in result.output
    assert "api.nudge.example" in result.output


def test_credentials_in_the_url_are_refused_without_echoing_them(tmp_path):
    text = MINIMAL.replace("https://", "https://user:hunter2-pass@")
    result = run(tmp_path, text, "render")
    assert result.exit_code == 2
    assert "[api].base_url: the URL must not carry a user name or password" in result.output
    assert "hunter2-pass" not in result.output


def test_http_to_loopback_is_allowed(tmp_path):
    text = MINIMAL.replace("https://api.nudge.example", "http://127.0.0.1:9")
    result = run(tmp_path, text, "render")
    # Gets past config loading to the lockfile check.
    assert "no organization recorded for client prairie-fcu" in result.output
    assert result.exit_code == 2


def test_missing_secret_variable_names_it_before_any_request(tmp_path):
    # The URL points at a port nothing listens on: reaching the network would be exit 3.
    text = MINIMAL.replace("https://api.nudge.example", "http://127.0.0.1:9")
    result = run(tmp_path, text, "build", env={"NUDGE_CLIENT_ID": "id"})
    assert result.exit_code == 2
    assert "environment variable NUDGE_CLIENT_SECRET is not set" in result.output
    assert "[api].client_secret_env" in result.output


def test_empty_secret_variable_is_reported_as_empty(tmp_path):
    text = MINIMAL.replace("https://api.nudge.example", "http://127.0.0.1:9")
    env = {"NUDGE_CLIENT_ID": "id", "NUDGE_CLIENT_SECRET": ""}
    result = run(tmp_path, text, "build", env=env)
    assert result.exit_code == 2
    assert "environment variable NUDGE_CLIENT_SECRET is empty" in result.output


def test_missing_client_key_variable_names_client_and_variable(tmp_path):
    text = MINIMAL.replace("https://api.nudge.example", "http://127.0.0.1:9")
    env = {"NUDGE_CLIENT_ID": "id", "NUDGE_CLIENT_SECRET": "s3cret-value"}
    result = run(tmp_path, text, "build", env=env)
    assert result.exit_code == 2
    assert (
        "NUDGE_KEY_PRAIRIE is not set (named by [clients.prairie-fcu].api_key_env" in result.output
    )
    assert "s3cret-value" not in result.output


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param(
            lambda t: t.replace(
                'api_key_env = "NUDGE_KEY_PRAIRIE"', 'api_key_env = "K"\napi_key = "k"'
            ),
            "[clients.prairie-fcu]: expected at most one of api_key_env",
            id="two-key-sources",
        ),
        pytest.param(
            lambda t: t + "[clients.prairie-fcu.flags]\ngeo = true\n",
            "[clients.prairie-fcu.flags].geo: expected one of the flags location",
            id="override-of-unknown-flag",
        ),
        pytest.param(
            lambda t: t + '[clients.prairie-fcu.flags]\nlocation = "yes"\n',
            "[clients.prairie-fcu.flags].location: expected true or false, got 'yes'",
            id="override-not-a-bool",
        ),
        pytest.param(
            lambda t: t + '[templates]\nstock = ["ios", "windows"]\n',
            "[templates].stock: unknown template set 'windows'",
            id="unknown-stock-set",
        ),
        pytest.param(
            lambda t: t + '[flags]\nlocation = "org.features.locationBasedNudges and"\n',
            "[flags].location: invalid expression",
            id="bad-flag-expression",
        ),
        pytest.param(
            lambda t: t.replace("[api]\n", '[api]\ntoken_auth = "digest"\n'),
            """[api].token_auth: expected "body" or "basic", got 'digest'""",
            id="bad-token-auth",
        ),
        pytest.param(
            lambda t: t.replace("[api]\n", "[api]\nconcurrency = 0\n"),
            "[api].concurrency: expected a whole number >= 1, got 0",
            id="zero-concurrency",
        ),
        pytest.param(
            lambda t: t.replace("[api]\n", '[api]\nclient_secret_env = "my secret"\n'),
            "[api].client_secret_env: expected the NAME of an environment variable",
            id="secret-env-not-a-name",
        ),
    ],
)
def test_config_error_names_file_key_and_expectation(tmp_path, change, message):
    result = run(tmp_path, change(MINIMAL), "render")
    assert result.exit_code == 2
    assert f"error: {tmp_path / 'nudge-build.toml'}: " in result.output
    assert message in result.output


def test_target_escaping_the_root_is_refused(tmp_path):
    (tmp_path / "tpl").mkdir()
    (tmp_path / "tpl" / "x.txt.j2").write_text("x\n")
    text = (
        MINIMAL + '[templates]\ndir = "tpl"\n[templates.targets]\n"x.txt.j2" = "{client}/../../x"\n'
    )
    result = run(tmp_path, text, "render")
    assert result.exit_code == 2
    assert "has an empty, '.' or '..' part; it must stay under output.root" in result.output


def test_target_without_client_placeholder_is_refused(tmp_path):
    (tmp_path / "tpl").mkdir()
    (tmp_path / "tpl" / "x.txt.j2").write_text("x\n")
    text = MINIMAL + '[templates]\ndir = "tpl"\n[templates.targets]\n"x.txt.j2" = "shared/x"\n'
    result = run(tmp_path, text, "render")
    assert result.exit_code == 2
    assert "must contain {client}" in result.output


def test_config_from_environment_variable(tmp_path):
    (tmp_path / "elsewhere.toml").write_text(MINIMAL)
    result = CliRunner().invoke(
        main, ["render"], env={"NUDGE_BUILD_CONFIG": str(tmp_path / "elsewhere.toml")}
    )
    assert result.exit_code == 2
    assert "no organization recorded for client prairie-fcu" in result.output


@pytest.mark.parametrize(
    ("text", "line"),
    [
        pytest.param('[api]\nbase_url = "https://x.example"\ntimeout = "10"\n', 3, id="wrong-type"),
        pytest.param('[api]\nbase_url = "https://x.example"\n\n[bogus]\nx = 1\n', 4, id="table"),
        pytest.param(
            '[api]\nbase_url = "https://x.example"\n[clients."Bad"]\napi_key = "k"\n',
            3,
            id="client-id",
        ),
        pytest.param(
            '[api]\nbase_url = "https://x.example"\n[clients.c]\napi_key = "k"\n'
            "[clients.c.flags]\n'location' = 1\n",
            6,
            id="quoted-key",
        ),
    ],
)
def test_config_error_carries_file_and_line_for_annotations(tmp_path, text, line):
    config = tmp_path / "nudge-build.toml"
    config.write_text(text)
    env = {"GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": str(tmp_path)}
    result = CliRunner().invoke(main, ["--config", str(config), "render"], env=env)
    assert result.exit_code == 2
    assert f"::error file=nudge-build.toml,line={line}::" in result.output
