"""``/openapi.json`` and its HTML rendering ``/docs`` (server-side, no script, no CDN)."""

from __future__ import annotations

from typing import Any

from flask import render_template, request

from . import bp
from .openapi import openapi_document
from .params import reject_unknown
from .serialize import json_response


@bp.get("/openapi.json")
def openapi_json() -> Any:
    reject_unknown(request.args, ())
    return json_response(openapi_document())


@bp.get("/docs")
def docs() -> Any:
    # A page, not data: its language switcher adds ``lang`` (see stopsync.i18n).
    reject_unknown(request.args, ("lang",))
    return render_template("api_docs.html", spec=openapi_document())
