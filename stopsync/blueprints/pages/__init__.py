"""Server-rendered pages of the published data, readable and indexable without JavaScript:
one ATLAS platform (``/stops/<sloid>``), one OSM element (``/osm/<type>/<id>``), the problems
list (``/problems``), plus what search engines need (``/robots.txt``, canonical links).

The pages read the same published snapshot tables as the JSON API, with the API's own
queries where they overlap, and like the API they read all their tables in one snapshot.
"""

from __future__ import annotations

from flask import Blueprint

from ..api import _refuse_nul
from ..api.cache import hold_snapshot

bp = Blueprint("pages", __name__)
# No database takes NUL in a string: refused with a 400, as the API refuses it.
bp.before_request(_refuse_nul)


def read_one_snapshot() -> None:
    """Every data page calls this before its first read (``robots.txt`` reads nothing): the
    API's once-per-request hold, released when the request's session ends."""
    hold_snapshot()


# View modules register on ``bp``; imported last because they import ``bp``.
from . import problems, seo, stops  # noqa: E402, F401
