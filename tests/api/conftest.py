"""A published real sample per backend, shared by the read-only tests of a module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from flask import Flask

from ..conftest import dispose, publish_sample

# Facts from /work/shared/data/real/atlas_traffic_points_sample.csv and osm_sample.xml.
GLARUS_SLOID = "ch:1:sloid:80266:0:16213"
GLARUS_NAME = "Glarus, Stampf"
GLARUS_UIC = "8580266"
GLARUS_NODE = "node/34674546"
GLARUS_BBOX = "9.06,47.03,9.08,47.05"
SWITZERLAND = "5.9,45.8,10.5,47.9"


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)])
def api_app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, real_data: Path
) -> Iterator[Flask]:
    """Read-only tests share one publication per module and backend (publishing is the slow part)."""
    application = publish_sample(str(request.param), tmp_path_factory.mktemp("api"), real_data)
    yield application
    dispose(application)


class Api:
    def __init__(self, app: Flask) -> None:
        self.client = app.test_client()

    def get(self, path: str, headers: dict[str, str] | None = None, **params: Any) -> Any:
        query = urlencode(params)
        return self.client.get(f"/api/v1{path}" + (f"?{query}" if query else ""), headers=headers or {})

    def ok(self, path: str, **params: Any) -> Any:
        response = self.get(path, **params)
        assert response.status_code == 200, response.get_data(as_text=True)[:500]
        return response.json

    def bad(self, path: str, parameter: str, **params: Any) -> Any:
        response = self.get(path, **params)
        assert response.status_code == 400, response.get_data(as_text=True)[:500]
        body = response.json
        assert body["error"] == "bad_request" and body["message"]
        assert body["details"]["parameter"] == parameter, body
        return body


@pytest.fixture
def api(api_app: Flask) -> Api:
    return Api(api_app)
