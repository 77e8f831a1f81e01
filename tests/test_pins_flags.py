"""Flag rules called directly: ``evaluate_rule`` (what ``explain`` uses), ``Flags``' accessors,
the refused combinations and every error's exact message. These pin what a mutation run of
``nudge_build.flags`` found untested (docs/mutation.md); derivation itself is in test_flags.py.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import pytest

from nudge_build.errors import ConfigError
from nudge_build.flags import (
    BUILTIN_RULES,
    Flag,
    Flags,
    compile_rules,
    derive,
    evaluate_rule,
    unworkable_combination,
)

FEATURES = {"locationBasedNudges": True, "backgroundLocation": True, "timeBasedNudges": True}
ORG = {"status": "active", "name": "Bank", "features": FEATURES}


def rules(**extra: str):
    return compile_rules(extra, config_path="cfg.toml")


class Recording(Mapping[str, bool]):
    """The earlier flags, noting each one an expression reads (as ``explain`` does)."""

    def __init__(self, values: dict[str, bool]) -> None:
        self.values, self.read = values, []

    def __getitem__(self, key: str) -> bool:
        self.read.append(key)
        return self.values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.values)

    def __len__(self) -> int:
        return len(self.values)


def test_evaluate_rule_gives_one_rules_value_reading_the_earlier_flags_handed_over():
    earlier = Recording({"location": True})
    assert evaluate_rule(rules(), "background_location", ORG, earlier, client="c") is True
    assert earlier.read == ["location"]
    off = Recording({"location": False})
    assert evaluate_rule(rules(), "background_location", ORG, off, client="c") is False
    assert off.read == ["location"]


def test_evaluate_rule_picks_the_named_rule_not_the_first():
    compiled = rules(first="true", second="false")
    assert evaluate_rule(compiled, "second", ORG, {}, client="c") is False
    assert evaluate_rule(compiled, "first", ORG, {}, client="c") is True


def test_evaluate_rule_of_an_unknown_name_is_a_key_error():
    with pytest.raises(KeyError) as info:
        evaluate_rule(rules(), "nope", ORG, {}, client="c")
    assert info.value.args == ("nope",)


def test_evaluate_rule_errors_name_the_client_and_the_rule():
    with pytest.raises(ConfigError) as info:
        evaluate_rule(rules(x="org.features.typo"), "x", ORG, {}, client="bank")
    assert str(info.value) == (
        "client bank: flag x: expression 'org.features.typo' failed: "
        "'dict object' has no attribute 'typo'"
    )


def test_the_builtin_rules_are_the_documented_expressions_in_order():
    assert rules().names == ("location", "background_location", "push")
    assert rules(extra="true", location="false").names == (
        "location",
        "background_location",
        "push",
        "extra",
    )
    assert BUILTIN_RULES["location"] == (
        "org.features.locationBasedNudges and org.status != 'suspended'"
    )


def test_flags_read_by_name_as_a_dict_and_in_order():
    flags = Flags((Flag("location", True, "derived"), Flag("push", False, "override")))
    assert flags["location"] is True and flags["push"] is False
    assert flags.as_dict() == {"location": True, "push": False}
    assert [flag.name for flag in flags] == ["location", "push"]
    with pytest.raises(KeyError) as info:
        flags["nope"]
    assert info.value.args == ("nope",)


def test_a_syntax_error_names_the_config_file_and_the_flag():
    with pytest.raises(ConfigError) as info:
        compile_rules({"x": "org.("}, config_path="cfg.toml")
    assert str(info.value).startswith("cfg.toml: [flags].x: invalid expression 'org.(': ")
    assert info.value.exit_code == 2


def test_an_error_raised_inside_an_expression_names_its_type():
    with pytest.raises(ConfigError) as info:
        derive(ORG, rules(x="1 / 0"), {}, client="c")
    assert str(info.value) == (
        "client c: flag x: expression '1 / 0' failed: ZeroDivisionError: division by zero"
    )


def test_a_bare_undefined_result_is_reported_like_a_failure():
    with pytest.raises(ConfigError) as info:
        derive(ORG, rules(x="org.nope"), {}, client="c")
    assert str(info.value) == (
        "client c: flag x: expression 'org.nope' failed: 'dict object' has no attribute 'nope'"
    )


def test_a_result_that_is_not_true_or_false_names_its_value_and_type():
    with pytest.raises(ConfigError) as info:
        derive(ORG, rules(x="1"), {}, client="c")
    assert str(info.value) == (
        "client c: flag x: expression '1' gave 1 (int), expected true or false"
    )


def test_later_flags_see_earlier_values_not_the_callers_mapping():
    flags = derive(ORG, rules(copy="flags.location"), {"location": False}, client="c")
    assert flags["copy"] is False
    assert [(f.name, f.source) for f in flags][0] == ("location", "override")


BAD = {
    "background without location": (
        {"location": False, "background_location": True, "push": True},
        "background_location is true but location is false; background location needs location",
    ),
    "background without push": (
        {"location": True, "background_location": True, "push": False},
        "background_location is true but push is false; the SDK would be off "
        "(NUDGE_ENABLED = NO) beside nudgeGeo, and without POST_NOTIFICATIONS the "
        "persistent notification of its location service is hidden",
    ),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_unworkable_combinations_are_refused_with_advice(case):
    overrides, problem = BAD[case]
    assert unworkable_combination(overrides) == problem
    with pytest.raises(ConfigError) as info:
        derive(ORG, rules(), overrides, client="bank")
    assert str(info.value) == (
        f"client bank: flag {problem} (check the overrides in [clients.bank.flags] and the "
        "rules in [flags], or set allow_unusual_flags = true in [clients.bank] to build it anyway)"
    )
    allowed = derive(ORG, rules(), overrides, client="bank", allow_unusual=True)
    assert allowed.as_dict() == overrides


@pytest.mark.parametrize(
    "values",
    [
        {"location": True, "background_location": True, "push": True},
        {"location": True, "background_location": False, "push": False},
        {"location": False, "background_location": False, "push": False},
        {"location": False, "background_location": False, "push": True},
    ],
)
def test_every_other_combination_is_workable(values):
    assert unworkable_combination(values) is None
