"""GET /api/v1/problems: filters, sorts, cursor paging, bad parameters."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import SWITZERLAND, Api


def _all(api: Api, **params: Any) -> list[dict[str, Any]]:
    """Every problem by following next_cursor pages of 5."""
    problems: list[dict[str, Any]] = []
    cursor = None
    while True:
        body = api.ok("/problems", limit=5, **params, **({"cursor": cursor} if cursor else {}))
        assert len(body["problems"]) <= 5
        problems += body["problems"]
        cursor = body["next_cursor"]
        if cursor is None:
            return problems


@pytest.mark.parametrize("sort", ["priority", "type", "distance"])
def test_paging_returns_every_problem_exactly_once_in_order(api: Api, sort: str) -> None:
    whole = api.ok("/problems", limit=1000, sort=sort)["problems"]
    assert len(whole) == 84  # the sample's problems (see statistics)
    paged = _all(api, sort=sort)
    assert [p["key"] for p in paged] == [p["key"] for p in whole]
    assert len({p["key"] for p in paged}) == len(paged)
    if sort == "priority":
        assert [p["priority"] for p in paged] == sorted(p["priority"] for p in paged)
    elif sort == "type":
        assert [p["type"] for p in paged] == sorted(p["type"] for p in paged)
    else:
        distances = [p["distance_m"] for p in paged if p["distance_m"] is not None]
        assert distances == sorted(distances, reverse=True)
        assert all(p["distance_m"] is None for p in paged[len(distances):])  # no distance: last


def test_problem_shape(api: Api) -> None:
    problem = api.ok("/problems", limit=1)["problems"][0]
    assert {"key", "type", "title", "priority", "status", "sloid", "osm_id", "side", "side_reason", "evidence",
            "fingerprint", "distance_m", "updated_at", "lon", "lat"} <= set(problem)
    assert problem["priority"] == 1 and problem["updated_at"].endswith("+00:00")


def test_filters_or_within_and_across(api: Api) -> None:
    distance = _all(api, type="distance")
    unmatched = _all(api, type="unmatched_osm")
    both = _all(api, type="distance,unmatched_osm")
    assert {p["key"] for p in both} == {p["key"] for p in distance} | {p["key"] for p in unmatched}
    critical_distance = _all(api, type="distance", priority="1")
    assert critical_distance and {(p["type"], p["priority"]) for p in critical_distance} == {("distance", 1)}
    assert len(_all(api, type="distance", priority="1,2")) == 35
    assert _all(api, status="decided") == []
    assert len(_all(api, status="new,persisting")) == 84


def test_operator_and_bbox_filters(api: Api) -> None:
    vbz = _all(api, operator="VBZ")
    assert vbz and all(p["evidence"].get("operator", "VBZ") == "VBZ" for p in vbz if p["type"] == "distance")
    zurich = _all(api, bbox="8.4,47.3,8.6,47.4")
    assert zurich and all(8.4 <= p["lon"] <= 8.6 and 47.3 <= p["lat"] <= 47.4 for p in zurich)
    assert {p["key"] for p in _all(api, bbox="8.4,47.3,8.6,47.4", operator="VBZ")} == (
        {p["key"] for p in zurich} & {p["key"] for p in vbz})
    assert len(_all(api, bbox=SWITZERLAND)) == 84


def test_updated_since(api: Api) -> None:
    assert len(_all(api, updated_since="2000-01-01")) == 84
    assert _all(api, updated_since="2999-01-01T00:00:00+01:00") == []


@pytest.mark.parametrize(("params", "parameter"), [
    ({"priority": "0"}, "priority"), ({"priority": "a"}, "priority"), ({"status": "open"}, "status"),
    ({"sort": "name"}, "sort"), ({"limit": "1001"}, "limit"), ({"limit": "-1"}, "limit"),
    ({"bbox": "1,2"}, "bbox"), ({"updated_since": "yesterday"}, "updated_since"), ({"cursor": "e30"}, "cursor"),
    ({"type": ""}, "type"), ({"canton": "XX"}, "canton"), ({"canton": ""}, "canton"), ({"mode": "rocket"}, "mode"),
    ({"osm_operator": ""}, "osm_operator"),
])
def test_bad_parameters(api: Api, params: dict[str, str], parameter: str) -> None:
    api.bad("/problems", parameter, **params)


def test_a_cursor_of_another_sort_is_refused(api: Api) -> None:
    cursor = api.ok("/problems", limit=2, sort="type")["next_cursor"]
    api.bad("/problems", "cursor", limit=2, sort="distance", cursor=cursor)
