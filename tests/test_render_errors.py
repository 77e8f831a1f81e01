"""Template and organization-data problems: exit 4 naming template and line; nothing written."""

from __future__ import annotations

import json

import pytest

from nudge_build.sandbox import Sandbox
from tests.helpers import CLIENT_ID, CLIENT_SECRET, cli, project_env, tree, write_project

ORG = {
    "apiKey": "key-hostile",
    "organizationId": "org_h0st1le",
    "name": "placeholder",
    "features": {"locationBasedNudges": True},
}


def serve(name: str, **more):
    org = {**ORG, "name": name, **more}
    return Sandbox([org], client_id=CLIENT_ID, client_secret=CLIENT_SECRET)


def custom_project(tmp_path, base_url, template_text: str, target: str = "x.properties"):
    tpl = tmp_path / "tpl" / "custom"
    tpl.mkdir(parents=True)
    (tpl / f"{target}.j2").write_text(template_text)
    config = write_project(tmp_path, base_url, clients=["hostile"], stock=["custom"])
    config.write_text(config.read_text().replace("[templates]\n", '[templates]\ndir = "tpl"\n'))
    return config


ENV = project_env({"hostile": "key-hostile"})


def test_template_syntax_error_names_file_and_line_exit_4(tmp_path):
    with serve("Bank") as api:
        config = custom_project(tmp_path, api.base_url, "a={{ org.name }}\nb={% if %}\n")
        result = cli(config, "build", env=ENV)
    assert result.exit_code == 4
    assert "tpl/custom/x.properties.j2:2: template syntax error" in result.stderr
    assert api.stats.total_requests == 0  # found before any request
    assert sorted(tree(tmp_path)) == ["nudge-build.toml", "tpl/custom/x.properties.j2"]


def test_fetch_renders_nothing_so_a_template_syntax_error_does_not_stop_it(tmp_path):
    with serve("Bank") as api:
        config = custom_project(tmp_path, api.base_url, "a={{ org.name }}\nb={% if %}\n")
        fetched = cli(config, "fetch", env=ENV)
    assert fetched.exit_code == 0, fetched.output
    assert api.stats.org_requests == {"key-hostile": 1}
    rendered = cli(config, "render", env=ENV)
    assert rendered.exit_code == 4
    assert "tpl/custom/x.properties.j2:2: template syntax error" in rendered.stderr


def test_undefined_variable_names_file_and_line_exit_4(tmp_path):
    with serve("Bank") as api:
        config = custom_project(tmp_path, api.base_url, "a=1\nb=2\nc={{ org.nope }}\n")
        result = cli(config, "build", env=ENV)
    assert result.exit_code == 4
    assert (
        "tpl/custom/x.properties.j2:3: client hostile: 'dict object' has no attribute 'nope'"
        in result.stderr
    )
    assert "nothing was written" in result.stderr
    assert not (tmp_path / "nudge").exists()
    assert not (tmp_path / "nudge-build.lock").exists()


def test_template_syntax_in_org_data_is_never_evaluated(tmp_path):
    name = "{{ 7*7 }} {% for x in [1] %}loop{% endfor %} {# c #}"
    with serve(name) as api:
        config = custom_project(tmp_path, api.base_url, "{{ org.name }}\n", target="x.json")
        result = cli(config, "build", env=ENV)
    assert result.exit_code == 0, result.output
    written = (tmp_path / "nudge/hostile/custom/x.json").read_text()
    assert json.loads(written) == name
    assert "49" not in written


def test_control_character_bound_for_xml_names_client_and_field(tmp_path):
    with serve("Bank\x01Name") as api:
        config = write_project(tmp_path, api.base_url, clients=["hostile"], stock=["ios"])
        result = cli(config, "build", env=ENV)
    assert result.exit_code == 4
    assert "client hostile: org.name" in result.stderr
    assert "U+0001" in result.stderr
    assert "NudgeInfo.plist.j2:" in result.stderr
    assert not (tmp_path / "nudge").exists()


def test_one_bad_client_fails_alone_and_the_other_is_written(tmp_path):
    # Its own data is the bad client's problem; tests/test_partial_render.py has the rest.
    good = {**ORG, "apiKey": "key-good", "name": "Good Bank"}
    bad = {**ORG, "apiKey": "key-hostile", "name": "Bad\x02Bank"}
    with Sandbox([good, bad], client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as api:
        config = write_project(tmp_path, api.base_url, clients=["good", "hostile"], stock=["ios"])
        env = project_env({"good": "key-good", "hostile": "key-hostile"})
        result = cli(config, "build", env=env)
    assert result.exit_code == 4
    assert sorted(p.name for p in (tmp_path / "nudge").iterdir()) == ["good"]


@pytest.mark.parametrize("bad", ["a//b", "$(HOME)", "two\nlines"])
def test_xcconfig_refuses_or_escapes_but_never_truncates(tmp_path, bad):
    with serve("Bank", organizationId=bad) as api:
        config = write_project(tmp_path, api.base_url, clients=["hostile"], stock=["ios"])
        result = cli(config, "build", env=ENV)
    if result.exit_code == 0:
        from nudge_build.formats import read_xcconfig

        text = (tmp_path / "nudge/hostile/ios/Nudge.xcconfig").read_text()
        assert read_xcconfig(text)["NUDGE_ORGANIZATION_ID"] is not None
    else:
        assert result.exit_code == 4
        assert "client hostile: org.organizationId" in result.stderr
        assert not (tmp_path / "nudge").exists()


def test_macro_from_an_imported_template_still_encodes_for_the_target(tmp_path):
    """An `{% import %}`ed template runs without the caller's context; escaping must still hold.

    The macros sit in a `_partial.j2`, which is used by templates but is not a target itself.
    """
    from nudge_build.formats import read_properties

    name = "A = b\nc # //x $(y)"
    with serve(name) as api:
        config = custom_project(
            tmp_path,
            api.base_url,
            '{% import "custom/_macros.j2" as m %}{{ m.kv("name", org.name) }}\n',
        )
        (tmp_path / "tpl" / "custom" / "_macros.j2").write_text(
            "{% macro kv(k, v) %}{{ k }}={{ v }}{% endmacro %}"
        )
        result = cli(config, "build", env=ENV)
    assert result.exit_code == 0, result.output
    written = (tmp_path / "nudge/hostile/custom/x.properties").read_text()
    assert read_properties(written) == {"name": name}
    assert sorted(p.name for p in written_dir(tmp_path)) == ["x.properties"]


def written_dir(tmp_path):
    return (tmp_path / "nudge/hostile/custom").iterdir()
