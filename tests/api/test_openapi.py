"""The OpenAPI document describes every /api/v1/ route and parameter; /docs renders it."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask

from .conftest import Api


def _spec_path(rule: str) -> str:
    """``/api/v1/stops/<path:id>`` -> ``/stops/{id}``."""
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.removeprefix("/api/v1"))


def test_every_api_route_is_in_the_spec(api_app: Flask) -> None:
    spec = Api(api_app).ok("/openapi.json")
    assert spec["openapi"].startswith("3.1")
    routes = {_spec_path(rule.rule) for rule in api_app.url_map.iter_rules() if rule.rule.startswith("/api/v1/")}
    assert routes, "no API routes registered"
    missing = routes - set(spec["paths"])
    assert not missing, f"routes missing from the OpenAPI document: {sorted(missing)}"
    assert set(spec["paths"]) == routes  # and nothing documented that does not exist
    for rule in api_app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            assert {m.lower() for m in rule.methods or ()} - {"head", "options"} <= set(spec["paths"][_spec_path(
                rule.rule)])


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if "$ref" in node else []
        return own + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


def test_every_reference_resolves_and_every_operation_is_complete(api_app: Flask) -> None:
    spec = Api(api_app).ok("/openapi.json")
    for ref in _refs(spec):
        assert ref.removeprefix("#/components/schemas/") in spec["components"]["schemas"], ref
    operation_ids = []
    for path, item in spec["paths"].items():
        operation = item["get"]
        operation_ids.append(operation["operationId"])
        assert operation["summary"] and "200" in operation["responses"], path
        for parameter in operation["parameters"]:
            assert parameter["description"] and parameter["schema"], (path, parameter["name"])
        path_names = {p["name"] for p in operation["parameters"] if p["in"] == "path"}
        assert path_names == set(re.findall(r"{(\w+)}", path)), path
    assert len(operation_ids) == len(set(operation_ids))


def test_documented_parameters_are_accepted_and_others_refused(api_app: Flask) -> None:
    """A documented parameter never answers 'unknown parameter'; an undocumented one does (for
    the routes of the API blueprint; /status belongs to the status blueprint)."""
    api = Api(api_app)
    spec = api.ok("/openapi.json")
    ours = {_spec_path(rule.rule) for rule in api_app.url_map.iter_rules() if rule.endpoint.startswith("api.")}
    for path, item in spec["paths"].items():
        if path not in ours:
            continue
        concrete = path.replace("{id}", "node/34674546")
        for parameter in item["get"]["parameters"]:
            if parameter["in"] != "query":
                continue
            response = api.get(concrete, **{parameter["name"]: "1"})
            if response.status_code == 400:
                assert "unknown parameter" not in response.json["message"], (path, parameter["name"])
        if path != "/docs":
            api.bad(concrete, "undocumented_parameter", undocumented_parameter="1")


def test_docs_page_renders_every_endpoint_without_script_or_cdn(api_app: Flask) -> None:
    api = Api(api_app)
    spec = api.ok("/openapi.json")
    response = api.get("/docs")
    assert response.status_code == 200 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    for path, item in spec["paths"].items():
        assert f"GET /api/v1{path}" in html
        for parameter in item["get"]["parameters"]:
            assert f"<code>{parameter['name']}</code>" in html
    assert "<script" not in html and " on" + "click=" not in html and "style=" not in html
    assert not re.search(r"""(src|href)=["']https?://(?!www\.openstreetmap\.org|opentransportdata)""", html)
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
