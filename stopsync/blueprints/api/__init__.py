"""The public JSON API, version 1.

Every endpoint reads the published snapshot only; parameters are parsed strictly (unknown
parameters and bad values answer 400 naming the parameter). The OpenAPI document
(``/api/v1/openapi.json``, module :mod:`.openapi`) describes every route registered here.
Hot reads are answered from a response cache keyed by the published snapshot (:mod:`.cache`).
"""

from __future__ import annotations

from flask import Blueprint, Response, request

from ...errors import BadRequestError

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.before_request
def _refuse_nul() -> None:
    # No database takes NUL in a string (PostgreSQL raises); refuse it before any view runs.
    for name, value in request.args.items(multi=True):
        if "\x00" in name or "\x00" in value:
            parameter = name.replace("\x00", "") or "<empty>"
            raise BadRequestError("parameters must not contain NUL characters", parameter=parameter)


@bp.before_request
def _cached_answer_or_one_snapshot() -> Response | None:
    # A cached answer when there is one (no database transaction); otherwise the request holds
    # one snapshot, released when its session ends (Flask-SQLAlchemy removes it at teardown).
    return cache.answer_from_cache()


@bp.after_request
def _api_headers(response: Response) -> Response:
    response = cache.store_answer(response)
    # The API is data, not pages: keep it out of search engines.
    response.headers["X-Robots-Tag"] = "noindex"
    return response


# Route modules register their views on ``bp``; imported last because they import ``bp``.
from . import aggregates, cache, docs, problems, search, stops, tiles  # noqa: E402, F401
