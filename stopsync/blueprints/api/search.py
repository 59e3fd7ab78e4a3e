"""Search by SLOID, UIC number, OSM id or name.

Names are matched against an in-process index built once per worker and snapshot (keyed by the
database and the snapshot's run id): accents and case are ignored, every query word must start
a word of the name, and when nothing matches a fuzzy fallback accepts near-misses per word.
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

from ...extensions import db
from . import bp
from .cache import current_run_id
from .filters import ATLAS, OSM
from .params import parse_limit, parse_text, reject_unknown
from .serialize import coordinate, json_response
from .stops import MAX_OSM_ID, atlas_select, osm_select

SEARCH_PARAMETERS = ("q", "limit")
SEARCH_DEFAULT_LIMIT = 20
SEARCH_MAX_LIMIT = 100
FUZZY_CUTOFF = 0.75

SLOID_QUERY = re.compile(r"ch:\d{1,4}:sloid:[0-9A-Za-z:]{1,40}", re.IGNORECASE)
TYPED_OSM_QUERY = re.compile(r"(node|way|relation|n|w|r)\s*/?\s*(\d{1,19})", re.IGNORECASE)
NUMBER_QUERY = re.compile(r"\d{1,19}")
OSM_TYPES = {"n": "node", "w": "way", "r": "relation"}
WORD = re.compile(r"[0-9a-z]+")


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


@bp.get("/search")
def search() -> Any:
    """Stops matching ``q``: see the module docstring for the kinds of query."""
    reject_unknown(request.args, SEARCH_PARAMETERS)
    q = parse_text(request.args.get("q"), "q")
    limit = parse_limit(request.args.get("limit"), SEARCH_DEFAULT_LIMIT, SEARCH_MAX_LIMIT)
    found = _by_identifier(q, limit)
    if found is None:
        how, entries = name_index().search(q, limit)
        found = how, [{**entry, "match": how} for entry in entries]
    kind, results = found
    return json_response({"q": q, "kind": kind, "limit": limit, "results": results})
