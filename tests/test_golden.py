"""Stock outputs for the sample organizations, byte for byte against tests/golden/.

Cases: background (prairie-fcu), foreground only (harbor-bank), location off (summit-cu),
suspended (lakeside-savings), onboarding with defaults (ridgeline-trust). Regenerate on purpose
with `python -m tests.golden_build` and review the diff.
"""

from __future__ import annotations

import pytest

from tests.golden_build import GOLDEN, build_golden_tree
from tests.helpers import tree

EXPECTED = tree(GOLDEN)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return build_golden_tree(tmp_path_factory.mktemp("golden"))


def test_same_file_set_as_golden(built):
    assert sorted(built) == sorted(EXPECTED)
    assert len(EXPECTED) == 5 * 10  # five clients, ten files each across the five sets


@pytest.mark.parametrize("relative", sorted(EXPECTED))
def test_file_matches_golden_byte_for_byte(built, relative):
    assert built[relative] == EXPECTED[relative]
