"""``nudge-build demo``: the bundled example config built against an in-process sandbox."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from nudge_build.config import Config, load_config
from nudge_build.errors import ConfigError
from nudge_build.pipeline import RunReport, prepare, run_build
from nudge_build.sandbox import Sandbox

DEMO_CLIENT_ID = "sandbox-client"
DEMO_CLIENT_SECRET = "sandbox-secret"  # the sandbox's published test value


def demo_config_text() -> str:
    return (resources.files("nudge_build") / "data" / "demo.toml").read_text(encoding="utf-8")


def run_demo(out: Path) -> tuple[RunReport, Config]:
    try:
        out.mkdir(parents=True, exist_ok=True)
        config_path = out / "nudge-build.toml"
        config_path.write_text(demo_config_text(), encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{out}: cannot write the demo there: {exc.strerror}") from exc
    with Sandbox(client_id=DEMO_CLIENT_ID, client_secret=DEMO_CLIENT_SECRET) as sandbox:
        environ = {
            "NUDGE_API_URL": sandbox.base_url,
            "NUDGE_CLIENT_ID": DEMO_CLIENT_ID,
            "NUDGE_CLIENT_SECRET": DEMO_CLIENT_SECRET,
        }
        config = load_config(config_path, environ)
        report = run_build(prepare(config), environ)
    return report, config
