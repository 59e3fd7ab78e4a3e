"""Property-based fuzzing of the public API: any query answers 200 or a JSON 400, never 500."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st

from ..conftest import make_app

_numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-1000, max_value=1000).map(str),
    st.text(max_size=6),
)
_bbox = st.lists(_numbers, min_size=0, max_size=6).map(",".join)
_params = st.dictionaries(
    st.sampled_from(["bbox", "limit", "layers", "zoom", "", "bbox[]"]),
    st.one_of(_bbox, st.text(max_size=20), st.integers(-5, 20_000).map(str)),
    max_size=4,
)

@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory: pytest.TempPathFactory) -> Flask:
    return make_app("sqlite", tmp_path_factory.mktemp("fuzz"))


@settings(max_examples=300, deadline=None)
@given(params=_params)
def test_stops_never_fails_on_any_query(fuzz_app: Flask, params: dict[str, str]) -> None:
    response = fuzz_app.test_client().get("/api/v1/stops?" + urlencode(params))
    assert response.status_code in (200, 400), (params, response.data[:200])
    body = response.get_json()
    assert isinstance(body, dict)
    if response.status_code == 400:
        assert body["error"] == "bad_request" and body["message"]
    else:
        assert body["type"] == "FeatureCollection"
