"""The matching profile: Swiss defaults, overrides, and rejected input."""

from __future__ import annotations

from typing import Any

import pytest

from stopsync.errors import ConfigurationError
from stopsync.pipeline.profile import DEFAULT_STRATEGY_ORDER, ManualLink, Profile, load_profile, profile_keys
from stopsync.plugins.manager import build_plugins


def test_swiss_defaults() -> None:
    profile = load_profile({})
    assert (profile.pair_max_m, profile.pair_equal_counts_max_m, profile.pair_ratio) == (12.0, 15.0, 1.5)
    assert profile.trio_side_max_m == 15.0
    assert profile.group_radii_m == (50.0, 150.0)
    assert (profile.platform_code_max_m, profile.single_candidate_max_m, profile.route_max_m) == (50.0, 50.0, 50.0)
    assert (profile.ratio_max_m, profile.ratio_min_second_m, profile.ratio_factor) == (50.0, 10.0, 4.0)
    assert (profile.exact_name_max_m, profile.fuzzy_max_m, profile.fuzzy_min_similarity) == (150.0, 50.0, 0.85)
    assert profile.unmatched_radius_m == 50.0
    assert profile.strategy_order == DEFAULT_STRATEGY_ORDER


def test_overrides_apply() -> None:
    profile = load_profile({"PAIR_MAX_M": 10, "GROUP_RADII_M": [40, 120], "ROUTE_MIN_SHARED_TOKENS": 2,
                            "MANUAL_LINKS": [{"sloid": "ch:1:sloid:1", "osm_id": "node/1"}]})
    assert profile.pair_max_m == 10.0 and isinstance(profile.pair_max_m, float)
    assert profile.group_radii_m == (40.0, 120.0)
    assert profile.route_min_shared_tokens == 2
    assert profile.manual_links == (ManualLink("ch:1:sloid:1", "node/1"),)
    assert load_profile(profile) is profile
    assert load_profile(profile.as_dict()) == profile


def test_unknown_key_is_rejected_with_the_known_ones() -> None:
    with pytest.raises(ConfigurationError, match=r"unknown key\(s\) 'PAIR_MAX'.*known keys: PAIR_MAX_M"):
        load_profile({"PAIR_MAX": 12})
    with pytest.raises(ConfigurationError, match="unknown key"):
        load_profile({"pair_max_m": 12})  # keys are upper-case, as in MATCHING_PROFILE


def test_declared_third_party_keys_pass_through() -> None:
    profile = load_profile({"EXAMPLE_NEAREST_MAX_M": 20}, extra_keys=("EXAMPLE_NEAREST_MAX_M",))
    assert profile.extra == {"EXAMPLE_NEAREST_MAX_M": 20}


@pytest.mark.parametrize(("overrides", "message"), [
    ({"PAIR_MAX_M": "12"}, "must be a number"),
    ({"PAIR_MAX_M": True}, "must be a number"),
    ({"RATIO_MAX_M": -1}, ">= 0"),
    ({"RATIO_MAX_M": float("nan")}, "finite"),
    ({"ROUTE_MIN_SHARED_TOKENS": 1.5}, "whole number"),
    ({"FUZZY_MIN_SIMILARITY": 85}, r"\[0, 1\]"),
    ({"PAIR_RATIO": 0.5}, ">= 1"),
    ({"RATIO_FACTOR": 0.5}, ">= 1"),
    ({"GROUP_RADII_M": []}, "non-empty list"),
    ({"MANUAL_LINKS": {"sloid": "x"}}, "must be a list"),
    ({"MANUAL_LINKS": [{"sloid": "x"}]}, "exactly the keys"),
    ({"MANUAL_LINKS": [{"sloid": "x", "osm_id": "123"}]}, "typed OSM id"),
])
def test_bad_values_are_rejected(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        load_profile(overrides)


def test_every_field_has_a_key() -> None:
    assert "MANUAL_LINKS" in profile_keys() and "EXTRA" not in profile_keys()
    assert set(Profile().as_dict()) == set(profile_keys())


def test_default_order_is_the_built_in_run_order() -> None:
    plugins = build_plugins({"SAFE_MODE": True})
    assert tuple(cls.name for cls in plugins.strategy_order(None)) == DEFAULT_STRATEGY_ORDER
    orders = [getattr(cls, "order", 500) for cls in plugins.strategy_order(None)]
    assert orders == sorted(orders) and len(set(orders)) == len(orders)
