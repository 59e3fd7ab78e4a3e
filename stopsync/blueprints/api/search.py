"""Search by SLOID, UIC number, OSM id, name or route, and the stops of one route.

Names are matched against an in-process index built once per worker and snapshot (keyed by the
database and the snapshot's run id): accents and case are ignored, every query word must start
a word of the name, and when nothing matches a fuzzy fallback accepts near-misses per word.

Routes are found by their ref (``31``, ``S12``, ``IC 5``; spaces, case and accents ignored),
optionally after a mode word (``Bus 31``, ``Tram 4``); they come before the stops.
"""

from __future__ import annotations

import bisect
import difflib
import re
import threading
import unicodedata
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from flask import request

from ...errors import BadRequestError, NotFoundError
from ...extensions import db
from ...pipeline.stop_routes import ref_key
from . import bp
from .cache import current_run_id
from .filters import ATLAS, OSM, ROUTE_ID_MAX_LENGTH, STOP_ROUTES
from .params import parse_limit, parse_text, reject_unknown
from .serialize import coordinate, json_response, route_item
from .stops import MAX_OSM_ID, atlas_select, osm_select, route_sort_key

SEARCH_PARAMETERS = ("q", "limit")
SEARCH_DEFAULT_LIMIT = 20
SEARCH_MAX_LIMIT = 100
FUZZY_CUTOFF = 0.75

SLOID_QUERY = re.compile(r"ch:\d{1,4}:sloid:[0-9A-Za-z:]{1,40}", re.IGNORECASE)
TYPED_OSM_QUERY = re.compile(r"(node|way|relation|n|w|r)\s*/?\s*(\d{1,19})", re.IGNORECASE)
NUMBER_QUERY = re.compile(r"\d{1,19}")
OSM_TYPES = {"n": "node", "w": "way", "r": "relation"}
WORD = re.compile(r"[0-9a-z]+")
# A leading word that names a mode (or just "line") in a route query: "Bus 31", "Linie 4".
ROUTE_WORDS = {"bus": "bus", "autobus": "bus", "postauto": "bus", "trolleybus": "bus", "tram": "tram",
               "train": "train", "zug": "train", "treno": "train", "metro": "subway", "subway": "subway",
               "ferry": "ferry", "schiff": "ferry", "bateau": "ferry", "battello": "ferry", "boat": "ferry",
               "funicular": "funicular", "standseilbahn": "funicular", "funiculaire": "funicular",
               "gondola": "aerialway", "seilbahn": "aerialway", "aerialway": "aerialway", "line": None,
               "linie": None, "ligne": None, "linea": None}
ROUTE_REF_MAX = 12
ROUTES_PARAMETERS: tuple[str, ...] = ()
ROUTE_ID_PATTERN = re.compile(
    rf"(osm:relation/[1-9]\d{{0,18}}|gtfs:[^\s,\x00-\x1f\x7f]{{1,{ROUTE_ID_MAX_LENGTH - len('gtfs:')}}})")


def fold(text: str) -> str:
    """Lower case without accents: ``Zürich`` -> ``zurich``, ``Chêne`` -> ``chene``."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def words(text: str) -> list[str]:
    return WORD.findall(fold(text))


@dataclass
class NameIndex:
    """Every stop's name split into folded words, with a sorted vocabulary for prefix lookups."""

    entries: list[dict[str, Any]] = field(default_factory=list)
    folded: list[str] = field(default_factory=list)
    postings: dict[str, set[int]] = field(default_factory=dict)
    vocabulary: list[str] = field(default_factory=list)

    def add(self, entry: dict[str, Any]) -> None:
        index = len(self.entries)
        self.entries.append(entry)
        self.folded.append(" ".join(words(entry["name"])))
        for word in set(words(entry["name"])):
            self.postings.setdefault(word, set()).add(index)

    def freeze(self) -> NameIndex:
        self.vocabulary = sorted(self.postings)
        return self

    def _prefixed(self, prefix: str) -> set[int]:
        found: set[int] = set()
        start = bisect.bisect_left(self.vocabulary, prefix)
        for word in self.vocabulary[start:]:
            if not word.startswith(prefix):
                break
            found |= self.postings[word]
        return found

    def _near(self, token: str) -> set[int]:
        """Names with a word close to ``token`` (or starting with it)."""
        found = self._prefixed(token)
        for word in difflib.get_close_matches(token, self.vocabulary, n=20, cutoff=FUZZY_CUTOFF):
            found |= self.postings[word]
        return found

    def search(self, query: str, limit: int) -> tuple[str, list[dict[str, Any]]]:
        """("name" or "fuzzy", entries): whole-name prefix matches first, then by name."""
        tokens = words(query)
        if not tokens:
            return "name", []
        for how, lookup in (("name", self._prefixed), ("fuzzy", self._near)):
            hits: set[int] | None = None
            for token in tokens:
                found = lookup(token)
                hits = found if hits is None else hits & found
                if not hits:
                    break
            if hits:
                phrase = " ".join(tokens)
                ranked = sorted(hits, key=lambda i: (not self.folded[i].startswith(phrase), self.folded[i],
                                                     self.entries[i]["id"]))
                return how, [self.entries[i] for i in ranked[:limit]]
        return "name", []


_indexes: dict[str, tuple[str, NameIndex]] = {}
_indexes_lock = threading.Lock()


def name_index() -> NameIndex:
    """This worker's index of the published snapshot, rebuilt when the snapshot changes."""
    database = str(db.engine.url)
    run_id = current_run_id()
    with _indexes_lock:
        known = _indexes.get(database)
        if known is not None and known[0] == run_id:
            return known[1]
        index = NameIndex()
        for row in db.session.execute(atlas_select().where(ATLAS.c.name != "").order_by(ATLAS.c.sloid)):
            index.add(_result(_atlas(row), "name"))
        for row in db.session.execute(osm_select().where(OSM.c.name != "").order_by(OSM.c.osm_id)):
            index.add(_result(_osm(row), "name"))
        _indexes[database] = (run_id, index.freeze())
        return index


def _atlas(row: Any) -> dict[str, Any]:
    return {"layer": "atlas", "id": row.sloid, "name": row.name, "number": row.number,
            "designation": row.designation, "operator": row.operator, "lon": coordinate(row.lon),
            "lat": coordinate(row.lat)}


def _osm(row: Any) -> dict[str, Any]:
    return {"layer": "osm", "id": row.osm_id, "name": row.name, "kind": row.kind, "uic_ref": row.uic_ref,
            "local_ref": row.local_ref, "lon": coordinate(row.lon), "lat": coordinate(row.lat)}


def _result(item: dict[str, Any], match: str) -> dict[str, Any]:
    return {**item, "match": match, "details": f"{bp.url_prefix}/stops/{item['id']}"}


def _rows(query: sa.Select[Any], limit: int) -> list[Any]:
    return list(db.session.execute(query.limit(limit)).all())


def _by_identifier(q: str, limit: int) -> tuple[str, list[dict[str, Any]]] | None:
    """Results for a SLOID, a typed OSM id, or a number (UIC number or bare OSM id); ``None``
    for free text."""
    if SLOID_QUERY.fullmatch(q):
        head, _, tail = q.partition(":sloid:")
        sloid = f"{head.lower()}:sloid:{tail}"
        prefix = sloid.rstrip(":") + ":"
        rows = _rows(atlas_select().where(sa.or_(ATLAS.c.sloid == sloid,
                                                 ATLAS.c.sloid.startswith(prefix, autoescape=True)))
                     .order_by(ATLAS.c.sloid), limit)
        return "sloid", [_result(_atlas(row), "sloid") for row in rows]
    typed = TYPED_OSM_QUERY.fullmatch(q)
    if typed and int(typed.group(2)) <= MAX_OSM_ID:
        kind = typed.group(1).lower()
        osm_id = f"{OSM_TYPES.get(kind, kind)}/{int(typed.group(2))}"
        return "osm_id", [_result(_osm(row), "osm_id") for row in _rows(osm_select().where(OSM.c.osm_id == osm_id),
                                                                         limit)]
    if NUMBER_QUERY.fullmatch(q):
        results = [_result(_atlas(row), "uic") for row in
                   _rows(atlas_select().where(ATLAS.c.number == q).order_by(ATLAS.c.sloid), limit)]
        results += [_result(_osm(row), "uic") for row in
                    _rows(osm_select().where(OSM.c.uic_ref == q).order_by(OSM.c.osm_id), limit)]
        if int(q) <= MAX_OSM_ID:
            results += [_result(_osm(row), "osm_id") for row in
                        _rows(osm_select().where(OSM.c.osm_numeric_id == int(q)).order_by(OSM.c.osm_id), limit)]
        return "number", results[:limit]
    return None


def route_query(q: str) -> tuple[str, str | None] | None:
    """(ref key, mode or None) when ``q`` can be a route ref, optionally after a mode word."""
    parts = q.split()
    mode = None
    if len(parts) > 1 and fold(parts[0]) in ROUTE_WORDS:
        mode = ROUTE_WORDS[fold(parts[0])]
        parts = parts[1:]
        named = True
    else:
        named = False
    key = ref_key(" ".join(parts))
    if not key or len(key) > ROUTE_REF_MAX:
        return None
    # Refs have digits ("31", "S12", "IC 5") or are short ("IR", "ICE"); a word needs a mode word.
    if named or any(ch.isdigit() for ch in key) or (len(parts) == 1 and len(key) <= 4):
        return key, mode
    return None


def _route_summaries(where: list[sa.ColumnElement[bool]]) -> list[dict[str, Any]]:
    """One result per route id: what it is, how many stops it serves and their bbox."""
    lon = sa.func.coalesce(ATLAS.c.lon, OSM.c.lon)
    lat = sa.func.coalesce(ATLAS.c.lat, OSM.c.lat)
    query = (
        sa.select(STOP_ROUTES.c.route_id, sa.func.max(STOP_ROUTES.c.source).label("source"),
                  sa.func.max(STOP_ROUTES.c.route_ref).label("route_ref"),
                  sa.func.max(STOP_ROUTES.c.route_name).label("route_name"),
                  sa.func.max(STOP_ROUTES.c.mode).label("mode"), sa.func.max(STOP_ROUTES.c.operator).label("operator"),
                  sa.func.count().label("stops"), sa.func.min(lon).label("min_lon"), sa.func.min(lat).label("min_lat"),
                  sa.func.max(lon).label("max_lon"), sa.func.max(lat).label("max_lat"))
        .select_from(STOP_ROUTES.outerjoin(ATLAS, ATLAS.c.sloid == STOP_ROUTES.c.sloid)
                     .outerjoin(OSM, OSM.c.osm_id == STOP_ROUTES.c.osm_id))
        .where(*where).group_by(STOP_ROUTES.c.route_id)
    )
    results = []
    for row in db.session.execute(query):
        bbox = None if row.min_lon is None else [coordinate(row.min_lon), coordinate(row.min_lat),
                                                 coordinate(row.max_lon), coordinate(row.max_lat)]
        results.append({**route_item(row), "stops": int(row.stops), "bbox": bbox})
    return results


def _routes(q: str, limit: int) -> list[dict[str, Any]]:
    parsed = route_query(q)
    if parsed is None:
        return []
    key, mode = parsed
    where = [STOP_ROUTES.c.ref_key == key]
    if mode is not None:
        where.append(STOP_ROUTES.c.mode == mode)
    found = _route_summaries(where)
    found.sort(key=lambda item: (route_sort_key(item)[0], -item["stops"], item["id"]))
    return [{**item, "match": "route"} for item in found[:limit]]


@bp.get("/search")
def search() -> Any:
    """Routes and stops matching ``q``: see the module docstring for the kinds of query."""
    reject_unknown(request.args, SEARCH_PARAMETERS)
    q = parse_text(request.args.get("q"), "q")
    limit = parse_limit(request.args.get("limit"), SEARCH_DEFAULT_LIMIT, SEARCH_MAX_LIMIT)
    routes = _routes(q, limit)
    found = _by_identifier(q, limit)
    if found is None:
        how, entries = name_index().search(q, limit)
        found = how, [{**entry, "match": how} for entry in entries]
    kind, results = found
    if routes:
        kind, results = "route", (routes + results)[:limit]
    return json_response({"q": q, "kind": kind, "limit": limit, "results": results})


def parse_route_id(raw: str) -> str:
    if ROUTE_ID_PATTERN.fullmatch(raw):
        return raw
    raise BadRequestError(
        f"id {raw[:80]!r} is not a route id (osm:relation/123 or gtfs:<route id>)", parameter="id")


@bp.get("/routes/<path:id>")
def route_details(id: str) -> Any:
    """One route: what it is, its bbox, and every stop it serves (with the directions)."""
    reject_unknown(request.args, ROUTES_PARAMETERS)
    route_id = parse_route_id(id)
    summaries = _route_summaries([STOP_ROUTES.c.route_id == route_id])
    if not summaries:
        raise NotFoundError(f"no route {route_id!r} in the published snapshot", parameter="id")
    rows = db.session.execute(
        sa.select(STOP_ROUTES.c.sloid, STOP_ROUTES.c.osm_id, STOP_ROUTES.c.directions,
                  sa.func.coalesce(ATLAS.c.name, OSM.c.name).label("name"),
                  sa.func.coalesce(ATLAS.c.matched, OSM.c.matched).label("matched"),
                  sa.func.coalesce(ATLAS.c.lon, OSM.c.lon).label("lon"),
                  sa.func.coalesce(ATLAS.c.lat, OSM.c.lat).label("lat"))
        .select_from(STOP_ROUTES.outerjoin(ATLAS, ATLAS.c.sloid == STOP_ROUTES.c.sloid)
                     .outerjoin(OSM, OSM.c.osm_id == STOP_ROUTES.c.osm_id))
        .where(STOP_ROUTES.c.route_id == route_id)
    ).all()
    stops = sorted(
        ({"layer": "atlas" if row.sloid else "osm", "id": row.sloid or row.osm_id, "name": row.name or "",
          "matched": bool(row.matched), "directions": row.directions,
          "lon": coordinate(row.lon) if row.lon is not None else None,
          "lat": coordinate(row.lat) if row.lat is not None else None,
          "details": f"{bp.url_prefix}/stops/{row.sloid or row.osm_id}"} for row in rows),
        key=lambda stop: (fold(stop["name"]), stop["id"]))
    return json_response({**summaries[0], "run_id": current_run_id(), "stops": stops, "count": len(stops)})
