"""The smaller commands as users run them: sandbox as a process, init, templates, packaging."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import sysconfig
import tomllib
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from nudge_build.cli import main
from tests.helpers import cli, project_env, write_project

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def sandbox_process():
    """`nudge-build sandbox --port 0` as a separate process; yields its base URL."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "nudge_build",
            "sandbox",
            "--port",
            "0",
            "--client-secret",
            "proc-secret-value",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith("nudge sandbox listening on http://127.0.0.1:"), line
        assert "proc-secret-value" not in line
        yield line.split(" on ", 1)[1].split(" ", 1)[0]
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        finally:
            proc.stdout.close()
            proc.stderr.close()


def test_sandbox_command_answers_the_contract_to_plain_urllib(sandbox_process):
    form = urllib.parse.urlencode(
        {
            "grant_type": "client_credentials",
            "client_id": "sandbox-client",
            "client_secret": "proc-secret-value",
        }
    ).encode()
    with urllib.request.urlopen(f"{sandbox_process}/oauth2/token", data=form, timeout=5) as r:
        token = json.load(r)
    assert token["token_type"] == "Bearer"
    assert token["expires_in"] == 60
    request = urllib.request.Request(
        f"{sandbox_process}/GetOrganization",
        data=json.dumps({"apiKey": "sbx-harbor-bank"}).encode(),
        headers={
            "Authorization": f"Bearer {token['access_token']}",
            "Content-Type": "application/json",
        },
    )
    with urllib.request.urlopen(request, timeout=5) as r:
        org = json.load(r)
    assert org["name"] == "Harbor & Main Bank"
    assert "apiKey" not in org


def test_init_writes_a_starter_config_that_loads(tmp_path):
    result = CliRunner().invoke(main, ["init", "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert f"wrote {tmp_path / 'nudge-build.toml'}" in result.output
    data = tomllib.loads((tmp_path / "nudge-build.toml").read_text())
    assert data["clients"]["example-cu"]["api_key_env"] == "NUDGE_KEY_EXAMPLE_CU"
    # It validates: the next step only fails for the missing lockfile entry.
    rendered = cli(tmp_path / "nudge-build.toml", "render")
    assert rendered.exit_code == 2
    assert "no organization recorded for client example-cu" in rendered.output


def test_init_refuses_to_overwrite(tmp_path):
    (tmp_path / "nudge-build.toml").write_text("# mine\n")
    result = CliRunner().invoke(main, ["init", "--dir", str(tmp_path)])
    assert result.exit_code == 2
    assert (
        "already exists (pass --force to overwrite, or --copy-templates to add only the "
        "templates)" in result.output
    )
    assert (tmp_path / "nudge-build.toml").read_text() == "# mine\n"


def test_init_copy_templates_and_partner_override_wins(tmp_path):
    from nudge_build.sandbox import Sandbox
    from tests.helpers import CLIENT_ID, CLIENT_SECRET

    result = CliRunner().invoke(main, ["init", "--dir", str(tmp_path), "--copy-templates"])
    assert result.exit_code == 0, result.output
    copied = tmp_path / "nudge-templates" / "ios" / "Nudge.xcconfig.j2"
    assert copied.is_file()
    assert 'dir = "nudge-templates"' in (tmp_path / "nudge-build.toml").read_text()
    copied.write_text(copied.read_text() + "NUDGE_PARTNER = {{ client.id }}\n")

    with Sandbox(client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as api:
        config = write_project(tmp_path, api.base_url, clients=["harbor-bank"])
        config.write_text(
            config.read_text().replace("[templates]\n", '[templates]\ndir = "nudge-templates"\n')
        )
        assert cli(config, "build", env=project_env()).exit_code == 0
    xcconfig = (tmp_path / "nudge/harbor-bank/ios/Nudge.xcconfig").read_text()
    assert xcconfig.endswith("NUDGE_PARTNER = harbor-bank\n")

    listing = cli(config, "templates", "--list")
    assert listing.exit_code == 0, listing.output
    assert "ios (rendered)" in listing.stdout
    assert f"  ios/Nudge.xcconfig.j2  [from {tmp_path / 'nudge-templates'}]" in listing.stdout


def test_templates_list_and_show_without_a_config(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    listing = runner.invoke(main, ["templates", "--list"], env={"NUDGE_BUILD_CONFIG": ""})
    assert listing.exit_code == 0, listing.output
    for name in ["ios", "android", "flutter", "react-native", "expo"]:
        assert f"\n{name}\n" in "\n" + listing.output
    assert "  android/res/values/nudge_strings.xml.j2  [stock]" in listing.output
    shown = runner.invoke(main, ["templates", "--show", "ios/NudgeInfo.plist.j2"], env={})
    assert shown.exit_code == 0
    assert "{% for purpose in platform.ios.purpose_strings %}" in shown.output
    missing = runner.invoke(main, ["templates", "--show", "ios/../../etc/passwd"], env={})
    assert missing.exit_code == 2
    assert "no template named 'ios/../../etc/passwd'" in missing.output


def test_version_and_module_entry_point():
    proc = subprocess.run(
        [sys.executable, "-m", "nudge_build", "--version"], capture_output=True, text=True
    )
    assert proc.returncode == 0
    assert proc.stdout.strip() == "nudge-build, version 0.1.0"


def test_wheel_ships_templates_and_demo_runs_from_it(tmp_path):
    """A non-editable install (a real wheel in a fresh venv) finds its templates and data."""
    wheel_dir = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(wheel_dir),
            str(REPO),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = wheel_dir.glob("nudge_build-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "nudge_build/templates/ios/NudgeInfo.plist.j2" in names
    assert "nudge_build/templates/android/res/values/nudge_strings.xml.j2" in names
    assert "nudge_build/data/sample_orgs.json" in names
    assert "nudge_build/data/demo.toml" in names

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    # The wheel's dependencies come from the environment running the tests, wherever that is (a
    # venv or not): `--system-site-packages` would see the *base* interpreter's packages, which
    # inside a venv lack them. A plain path line does not run that environment's own .pth
    # hooks, so an editable install of nudge-build there stays invisible.
    venv_site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    ours = dict.fromkeys(sysconfig.get_paths()[k] for k in ("purelib", "platlib"))
    (Path(venv_site) / "test-deps.pth").write_text("".join(f"{p}\n" for p in ours))
    # --ignore-installed: with the package already installed in the environment running the
    # tests (as after `pip install '.[test]'`), pip would call the wheel satisfied through that
    # path line and install nothing.
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "--ignore-installed", str(wheel)],
        check=True,
        capture_output=True,
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    where = subprocess.run(
        [str(python), "-c", "import nudge_build; print(nudge_build.__file__)"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert where.startswith(str(venv)), where  # the wheel, not the source tree
    demo = subprocess.run(
        [str(venv / "bin" / "nudge-build"), "demo", "--out", str(tmp_path / "demo")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert demo.returncode == 0, demo.stderr
    assert "5 of 5 clients built: wrote 50 new" in demo.stdout
