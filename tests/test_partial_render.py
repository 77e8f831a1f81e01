"""A client whose own data cannot be rendered fails alone; a template that fails every client
stops the run before any write. Real sandbox over loopback, real files, the real CLI."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path

from nudge_build.sandbox import SAMPLE_ORGS, Sandbox
from tests.helpers import (
    CLIENT_ID,
    CLIENT_SECRET,
    cli,
    mtimes,
    project_env,
    tree,
    write_project,
)

CLIENTS = ("prairie-fcu", "harbor-bank", "summit-cu")
KEYS = {c: f"sbx-{c}" for c in CLIENTS}


def organizations(version: str, *, bad: str | None = None) -> list[dict]:
    """The three clients' organizations, renamed for ``version``; ``bad`` gets a U+0001 in its
    name, which no XML file can carry (Android's strings.xml shows the name)."""
    orgs = []
    for org in SAMPLE_ORGS:
        if org["apiKey"] in KEYS.values():
            org = copy.deepcopy(org)
            org["name"] += f" {version}"
            if org["apiKey"] == KEYS.get(bad or ""):
                org["name"] = "Harbor\x01Main"
            orgs.append(org)
    return orgs


def build(tmp_path: Path, orgs: list[dict], extra: str = "", custom: str | None = None):
    with Sandbox(orgs, client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as api:
        stock = ("ios", "android")
        if custom is not None:
            (tmp_path / "tpl" / "custom").mkdir(parents=True, exist_ok=True)
            (tmp_path / "tpl" / "custom" / "Note.txt.j2").write_text(custom)
            stock = (*stock, "custom")
        config = write_project(
            tmp_path, api.base_url, clients=CLIENTS, stock=stock, extra='[output]\nroot = "out"\n'
        )
        if custom is not None:
            text = config.read_text().replace("[templates]\n", '[templates]\ndir = "tpl"\n')
            config.write_text(text)
        return cli(config, "build", env=project_env(KEYS)), config


def lock_entries(tmp_path: Path) -> dict:
    return tomllib.loads((tmp_path / "nudge-build.lock").read_text())["clients"]


def test_a_name_a_format_cannot_carry_fails_that_client_alone(tmp_path):
    first, _ = build(tmp_path, organizations("v1"))
    assert first.exit_code == 0, first.output
    out = tmp_path / "out"
    before, times, lock_before = tree(out), mtimes(out), lock_entries(tmp_path)

    result, config = build(tmp_path, organizations("v2", bad="harbor-bank"))

    assert result.exit_code == 4, result.output
    assert "client harbor-bank: " in result.stderr
    assert "nudge_strings.xml" in result.stderr  # the template that could not carry it
    assert "1 client(s) failed: harbor-bank" in result.output
    assert "nothing was written" not in result.stderr
    after, lock_after = tree(out), lock_entries(tmp_path)
    # The failed client: every file and its lockfile entry exactly as they were, mtimes too.
    harbor = [p for p in before if p.startswith("harbor-bank/")]
    assert harbor and {p: after[p] for p in harbor} == {p: before[p] for p in harbor}
    assert {p: mtimes(out)[p] for p in harbor} == {p: times[p] for p in harbor}
    assert lock_after["harbor-bank"] == lock_before["harbor-bank"]
    # Every other client written and locked with its new organization.
    for client in ("prairie-fcu", "summit-cu"):
        strings = after[f"{client}/android/res/values/nudge_strings.xml"].decode()
        assert " v2<" in strings, strings
        assert lock_after[client]["organization"]["name"].endswith(" v2")
        assert lock_after[client] != lock_before[client]
    assert not (tmp_path / ".nudge-build.lock.journal").exists()
    assert list(tmp_path.rglob("*.nudge-tmp")) == []
    # Files and lockfile agree for every client: the failed one is still its old version whole.
    assert cli(config, "check").exit_code == 0


def test_a_new_client_that_cannot_be_rendered_gets_no_files(tmp_path):
    result, _ = build(tmp_path, organizations("v1", bad="harbor-bank"))
    assert result.exit_code == 4, result.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["prairie-fcu", "summit-cu"]
    assert sorted(lock_entries(tmp_path)) == ["prairie-fcu", "summit-cu"]


def test_a_template_error_that_fails_every_client_writes_nothing(tmp_path):
    first, _ = build(tmp_path, organizations("v1"))
    assert first.exit_code == 0, first.output
    out = tmp_path / "out"
    before, times = tree(out), mtimes(out)
    lock_before = (tmp_path / "nudge-build.lock").read_bytes()

    undefined, _ = build(tmp_path, organizations("v2"), custom="{{ client.no_such_thing }}\n")
    assert undefined.exit_code == 4, undefined.output
    assert "Note.txt.j2:1: client prairie-fcu:" in undefined.stderr
    assert "nothing was written" in undefined.stderr
    assert tree(out) == before and mtimes(out) == times
    assert (tmp_path / "nudge-build.lock").read_bytes() == lock_before

    syntax, _ = build(tmp_path, organizations("v2"), custom="{% if %}\n")
    assert syntax.exit_code == 4, syntax.output
    assert "Note.txt.j2:1: template syntax error" in syntax.stderr
    assert tree(out) == before and mtimes(out) == times
    assert (tmp_path / "nudge-build.lock").read_bytes() == lock_before
