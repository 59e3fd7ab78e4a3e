"""Property-based fuzzing of every endpoint in the OpenAPI document: no input yields a 5xx.

Parameters are drawn from the document's own parameter lists (so every new endpoint or
parameter is fuzzed as soon as it is documented), mixed with unknown names, and given values
that are valid, almost valid, or junk.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stopsync.blueprints.api.openapi import openapi_document

SPEC = openapi_document()
PATHS = sorted(SPEC["paths"])
QUERY_NAMES = sorted({p["name"] for item in SPEC["paths"].values() for p in item["get"]["parameters"]
                      if p["in"] == "query"})

_number = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-(10**20), max_value=10**20).map(str),
    st.sampled_from(["9.06", "47.03", "-0", "1e308", "0x10", " 5"]),
)
_value = st.one_of(
    st.text(max_size=30),
    _number,
    st.lists(_number, min_size=0, max_size=6).map(",".join),
    st.sampled_from(["5.9,45.8,10.5,47.9", "9.06,47.03,9.08,47.05", "true", "false", "1,2", "PAG,TPG",
                     "platform", "distance", "json", "geojson", "priority", "type", "distance,unmatched_osm",
                     "2024-01-01", "2024-01-01T00:00:00Z", "Zürich", "ch:1:sloid:80266", "node/34674546",
                     "n1", "eyJyIjoieCJ9", "e30", "", "\x00", "%00", "'; DROP TABLE x; --"]),
)
_params = st.dictionaries(st.one_of(st.sampled_from(QUERY_NAMES), st.text(max_size=8)), _value, max_size=5)
_stop_ids = st.one_of(
    st.sampled_from(["ch:1:sloid:80266:0:16213", "node/34674546", "way/1", "relation/9223372036854775807",
                     "node/9223372036854775808", "ch:1:sloid:1::", "node/"]),
    st.text(min_size=1, max_size=40),
)


@pytest.fixture(scope="module")
def client(api_app: Flask) -> Any:
    return api_app.test_client()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(PATHS), params=_params, stop_id=_stop_ids,
       accept=st.sampled_from(["*/*", "application/json", "application/geo+json", "text/html", "x/y;q=0"]))
def test_no_request_yields_a_server_error(client: Any, path: str, params: dict[str, str], stop_id: str,
                                          accept: str) -> None:
    url = "/api/v1" + path.replace("{id}", quote(stop_id, safe="/:"))
    response = client.get(url + "?" + urlencode(params), headers={"Accept": accept})
    assert response.status_code < 500, (url, params, response.get_data(as_text=True)[:300])
    if path != "/docs" or response.status_code != 200:
        body = response.get_json(silent=True)
        assert isinstance(body, dict), (url, params, response.status_code)
        if response.status_code == 400:
            assert body["error"] == "bad_request" and body["message"]
            assert "parameter" in body.get("details", {})


def test_doubled_slashes_are_a_json_404_not_a_redirect(client: Any) -> None:
    response = client.get("/api/v1/stops//0")
    assert response.status_code == 404 and response.get_json()["error"] == "not_found"
