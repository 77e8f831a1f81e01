"""API keys in bulk: a key map in one variable or file (JSON or dotenv), masked key by key, and
every missing credential named in one error before any request."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from nudge_build.errors import ConfigError
from nudge_build.keymap import keys_by_client, parse_key_map
from nudge_build.sandbox import Sandbox
from tests.helpers import CLIENT_ID, CLIENT_SECRET, SAMPLE_KEYS, cli, tree
from tests.test_github import github_env, run_cli_process, workflow_commands

DOCS = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"
CREDENTIALS = {"NUDGE_CLIENT_ID": CLIENT_ID, "NUDGE_CLIENT_SECRET": CLIENT_SECRET}


@pytest.fixture(scope="module")
def api():
    with Sandbox(client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as sandbox:
        yield sandbox


def write_config(root: Path, base_url: str, *, api_extra: str = "", clients: str = "") -> Path:
    """A project whose clients name no key of their own, unless ``clients`` says otherwise."""
    lines = ["[api]", f'base_url = "{base_url}"', "retry_backoff = 0.05", api_extra, ""]
    lines += [clients] + [
        f"[clients.{c}]\n" for c in SAMPLE_KEYS if f"[clients.{c}]" not in clients
    ]
    config = root / "nudge-build.toml"
    config.write_text("\n".join(lines), encoding="utf-8")
    return config


def everything(result) -> str:
    return result.stdout + result.stderr


def test_a_json_map_in_one_variable_builds_every_client(tmp_path, api):
    config = write_config(tmp_path, api.base_url)
    keys = json.dumps(SAMPLE_KEYS)
    result = cli(config, "build", env={**CREDENTIALS, "NUDGE_API_KEYS": keys})
    assert result.exit_code == 0, everything(result)
    assert sorted(p.name for p in (tmp_path / "nudge").iterdir()) == sorted(SAMPLE_KEYS)
    for key in SAMPLE_KEYS.values():
        assert key not in everything(result)
        assert all(key.encode() not in data for data in tree(tmp_path).values())


def test_a_dotenv_file_names_clients_by_id_or_in_upper_snake_case(tmp_path, api):
    lines = ["# keys for local runs", ""]
    for number, (client, key) in enumerate(SAMPLE_KEYS.items()):
        name = client if number % 2 else client.upper().replace("-", "_")
        value = f'"{key}"' if number == 1 else f"{key}  # rotated in May" if number == 2 else key
        lines.append(("export " if number == 3 else "") + f"{name}={value}")
    (tmp_path / "keys.env").write_text("\n".join(lines) + "\n", encoding="utf-8")
    config = write_config(tmp_path, api.base_url, api_extra='api_keys_file = "keys.env"')
    result = cli(config, "build", env=CREDENTIALS)
    assert result.exit_code == 0, everything(result)
    assert sorted(p.name for p in (tmp_path / "nudge").iterdir()) == sorted(SAMPLE_KEYS)


def test_a_client_s_own_key_comes_before_the_map_and_the_variable_before_the_file(tmp_path, api):
    # The map holds wrong keys for prairie-fcu (it has its own) and for harbor-bank (the file,
    # which the variable beats); the sandbox would answer 404 to either.
    config = write_config(
        tmp_path,
        api.base_url,
        api_extra='api_keys_file = "keys.json"',
        clients='[clients.prairie-fcu]\napi_key_env = "PRAIRIE_KEY"\n',
    )
    wrong = {"prairie-fcu": "wrong-key-1", "harbor-bank": "wrong-key-2"}
    (tmp_path / "keys.json").write_text(json.dumps({**SAMPLE_KEYS, **wrong}), encoding="utf-8")
    in_variable = {c: k for c, k in SAMPLE_KEYS.items() if c != "prairie-fcu"}
    env = {
        **CREDENTIALS,
        "PRAIRIE_KEY": SAMPLE_KEYS["prairie-fcu"],
        "NUDGE_API_KEYS": json.dumps({**in_variable, "prairie-fcu": "wrong-key-3"}),
    }
    result = cli(config, "build", env=env)
    assert result.exit_code == 0, everything(result)
    assert "wrong-key" not in everything(result)


def test_a_map_entry_for_an_unknown_client_is_a_warning_naming_it_not_its_key(tmp_path, api):
    config = write_config(tmp_path, api.base_url)
    keys = {**SAMPLE_KEYS, "ghost-cu": "ghost-key-Zr81"}
    result = cli(config, "build", env={**CREDENTIALS, "NUDGE_API_KEYS": json.dumps(keys)})
    assert result.exit_code == 0, everything(result)
    warning = [line for line in result.stderr.splitlines() if "ghost-cu" in line]
    assert len(warning) == 1 and "not in [clients]" in warning[0]
    assert warning[0].startswith("warning: ")  # like every other warning, not a logger's record
    assert "NUDGE_API_KEYS" in warning[0]
    assert "ghost-key-Zr81" not in everything(result)


def test_every_missing_credential_is_named_in_one_error_before_any_request(tmp_path):
    with Sandbox(client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as sandbox:
        clients = (
            '[clients.prairie-fcu]\napi_key_env = "PRAIRIE_KEY"\n'
            '[clients.harbor-bank]\napi_key_env = "HARBOR_KEY"\n'
        )
        config = write_config(tmp_path, sandbox.base_url, clients=clients)
        keys = {"summit-cu": "sbx-summit-cu", "lakeside-savings": ""}
        env = {"NUDGE_CLIENT_SECRET": " ", "HARBOR_KEY": "", "NUDGE_API_KEYS": json.dumps(keys)}
        result = cli(config, "build", env=env)
        assert result.exit_code == 2
        assert sandbox.stats.total_requests == 0
    assert result.stderr.splitlines() == [
        "error: 6 credentials are missing or empty; nothing was requested:",
        "error: - environment variable NUDGE_CLIENT_ID is not set "
        f"(named by [api].client_id_env in {config})",
        "error: - environment variable NUDGE_CLIENT_SECRET is empty "
        f"(named by [api].client_secret_env in {config})",
        "error: - environment variable PRAIRIE_KEY is not set "
        f"(named by [clients.prairie-fcu].api_key_env in {config})",
        "error: - environment variable HARBOR_KEY is empty "
        f"(named by [clients.harbor-bank].api_key_env in {config})",
        "error: - the key of client lakeside-savings in NUDGE_API_KEYS ([api].api_keys_env) "
        "is empty",
        "error: - no API key for client ridgeline-trust: no api_key_env or api_key in its "
        f"[clients.…] table of {config}, and not in the map in NUDGE_API_KEYS "
        "([api].api_keys_env; set)",
    ]
    assert "sbx-summit-cu" not in everything(result)


def test_a_client_without_a_key_anywhere_is_an_error_naming_it(tmp_path, api):
    config = write_config(tmp_path, api.base_url, api_extra='api_keys_file = "keys.json"')
    result = cli(config, "fetch", env=CREDENTIALS)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"error: no API key for client {', '.join(SAMPLE_KEYS)}: no api_key_env or api_key in "
        f"its [clients.…] table of {config}, and not in the map in NUDGE_API_KEYS "
        f"([api].api_keys_env; not set) or {tmp_path / 'keys.json'} "
        "([api].api_keys_file; no such file)"
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"prairie-fcu": "k-Ab12", "harbor-bank": }', "line 1, column 42: Expecting value"),
        ('{"prairie-fcu": 12345678}', "the key for 'prairie-fcu' is not a string"),
        ("prairie-fcu=k-Ab12\nthis line holds sk-Hq99-secret\n", ", line 2: expected CLIENT=KEY"),
        ("prairie-fcu=k-Ab12\nPRAIRIE_FCU=k-Ab13\n", "client prairie-fcu is named twice"),
    ],
    ids=["bad-json", "not-a-string", "bad-dotenv-line", "named-twice"],
)
def test_a_malformed_map_is_an_error_that_quotes_none_of_it(tmp_path, text, message):
    config = write_config(tmp_path, "http://127.0.0.1:9")
    result = cli(config, "fetch", env={**CREDENTIALS, "NUDGE_API_KEYS": text})
    assert result.exit_code == 2
    assert message in result.stderr
    assert "NUDGE_API_KEYS ([api].api_keys_env)" in result.stderr
    for secret_looking in ("k-Ab12", "k-Ab13", "sk-Hq99"):
        assert secret_looking not in everything(result)


def test_in_github_every_key_of_the_map_is_masked_on_its_own_before_anything_else(tmp_path, api):
    config = write_config(tmp_path, api.base_url)
    unused = "unused-key-Wq27"  # a client not in the config: masked all the same
    keys = {**SAMPLE_KEYS, "ghost-cu": unused}
    env = {**CREDENTIALS, **github_env(tmp_path), "NUDGE_API_KEYS": json.dumps(keys)}
    run = run_cli_process(tmp_path, "--config", str(config), "build", env=env)
    assert run.returncode == 0, run.stdout
    log = run.stdout.splitlines()
    for key in keys.values():
        assert [line for line in log if key in line] == [f"::add-mask::{key}"]
    first_other = next(i for i, line in enumerate(log) if not line.startswith("::add-mask::"))
    assert all(log.index(f"::add-mask::{key}") < first_other for key in keys.values())
    names = [c for c in workflow_commands(run.stdout) if c[0] == "add-mask"]
    assert len({data for _, _, data in names}) == len(names)  # each once
    summary = Path(env["GITHUB_STEP_SUMMARY"]).read_text(encoding="utf-8")
    assert all(key not in summary for key in keys.values())


def test_the_documented_map_examples_name_the_clients_they_say(tmp_path):
    text = DOCS.read_text(encoding="utf-8")
    section = text.split("## API keys in bulk", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```(json|sh)\n(.*?)```", section, re.S)
    assert [kind for kind, _ in blocks] == ["json", "sh"]
    for kind, body in blocks:
        entries = parse_key_map(body, f"the {kind} example")
        keys, unknown = keys_by_client(entries, ["prairie-fcu", "harbor-bank"], "example")
        assert keys == {"prairie-fcu": "key-of-prairie", "harbor-bank": "key-of-harbor"}
        assert unknown == []


def test_a_map_is_read_by_content_json_or_dotenv_whatever_the_file_is_called():
    assert parse_key_map('  {"a": " k1 "}', "x") == {"a": "k1"}
    assert parse_key_map("a = 'k1'\n\n# c\nexport B=k2 # note\n", "x") == {"a": "k1", "B": "k2"}
    with pytest.raises(ConfigError, match="expected a JSON object"):
        parse_key_map('["k1"]', "x")
