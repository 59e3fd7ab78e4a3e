"""The public JSON API, version 1.

Every endpoint reads the published snapshot only; parameters are parsed strictly (unknown
parameters and bad values answer 400 naming the parameter). The OpenAPI document
(``/api/v1/openapi.json``, module :mod:`.openapi`) describes every route registered here.
"""

from __future__ import annotations

from flask import Blueprint, Response, request

from ...db.dialect import hold_snapshot_for_reading
from ...errors import BadRequestError
from ...extensions import db

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.before_request
def _refuse_nul() -> None:
    # No database takes NUL in a string (PostgreSQL raises); refuse it before any view runs.
    for name, value in request.args.items(multi=True):
        if "\x00" in name or "\x00" in value:
            parameter = name.replace("\x00", "") or "<empty>"
            raise BadRequestError("parameters must not contain NUL characters", parameter=parameter)


@bp.before_request
def _one_snapshot() -> None:
    # Released when the request's session ends (Flask-SQLAlchemy removes it at teardown).
    hold_snapshot_for_reading(db.session())


@bp.after_request
def _api_headers(response: Response) -> Response:
    # The API is data, not pages: keep it out of search engines.
    response.headers["X-Robots-Tag"] = "noindex"
    return response


# Route modules register their views on ``bp``; imported last because they import ``bp``.
from . import aggregates, docs, problems, search, stops  # noqa: E402, F401
