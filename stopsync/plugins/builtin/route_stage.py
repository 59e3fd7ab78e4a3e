"""Route evidence (order 400): the routes serving a platform agree on both sides.

Inputs come from the run context, built by the GTFS/route stages:
``engine.context["atlas_route_tokens"]: dict[sloid, set[str]]`` (GTFS route+direction tokens
per SLOID) and ``engine.context["osm_route_tokens"]: dict[osm_id, set[str]]`` (the same tokens
for the OSM route relations containing the element). Without them the stage links nothing and
says so in its statistics.

Within ``ROUTE_MAX_M`` a pair scores the Jaccard overlap of its token sets (an OSM unit pools
its members' tokens, since relations hold the stop_position and the platform alike); only
pairs that are each other's unique best, sharing at least ``ROUTE_MIN_SHARED_TOKENS``, link.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy import sparse

from ...pipeline.engine import MatchEngine
from ..base import MatchingStrategy
from ..hookspecs import hookimpl
from .selection import link_selected, mutual_best, rank_in_atlas

METHOD = "route_evidence"


def _matrix(rows: list[set[str]], vocabulary: dict[str, int]) -> sparse.csr_matrix:
    indptr: list[int] = [0]
    indices: list[int] = []
    for tokens in rows:
        indices.extend(vocabulary.setdefault(t, len(vocabulary)) for t in sorted(tokens))
        indptr.append(len(indices))
    data = np.ones(len(indices), dtype=np.float64)
    return sparse.csr_matrix((data, indices, indptr), shape=(len(rows), max(len(vocabulary), 1)))


class RouteEvidenceStrategy(MatchingStrategy):
    name = METHOD
    description = "GTFS route/direction tokens of the SLOID overlap the OSM routes of the element"
    order = 400

    def run(self, engine: MatchEngine) -> None:
        atlas_tokens: Mapping[str, set[str]] | None = engine.context.get("atlas_route_tokens")
        osm_tokens: Mapping[str, set[str]] | None = engine.context.get("osm_route_tokens")
        if not atlas_tokens or not osm_tokens:
            engine.record_stage(self.name, {"linked": 0, "skipped": "no route tokens in the run context"})
            return
        atlas_rows = [set(atlas_tokens.get(p.sloid, ())) for p in engine.atlas]
        own = [set(osm_tokens.get(e.osm_id, ())) for e in engine.osm]
        osm_rows = [set(tokens) for tokens in own]
        for j, siblings in engine.units.propagate_to.items():
            for sibling in siblings:
                osm_rows[j] |= own[sibling]
        vocabulary: dict[str, int] = {}
        atlas_matrix = _matrix(atlas_rows, vocabulary)
        osm_matrix = _matrix(osm_rows, vocabulary)
        width = max(len(vocabulary), 1)
        atlas_matrix.resize((len(atlas_rows), width))
        osm_matrix.resize((len(osm_rows), width))

        radius = engine.profile.route_max_m
        pairs = engine.candidate_pairs(engine.pending_atlas(), radius)
        pairs = pairs.where(~engine.codes_contradict(pairs.atlas, pairs.osm))
        ranks = rank_in_atlas(pairs)
        shared = np.asarray(atlas_matrix[pairs.atlas].multiply(osm_matrix[pairs.osm]).sum(axis=1)).ravel()
        size_a = np.diff(atlas_matrix.indptr)[pairs.atlas]
        size_o = np.diff(osm_matrix.indptr)[pairs.osm]
        union = size_a + size_o - shared
        jaccard = np.divide(shared, union, out=np.zeros(len(pairs)), where=union > 0)
        good = shared >= max(engine.profile.route_min_shared_tokens, 1)
        pairs, jaccard, shared, ranks = pairs.where(good), jaccard[good], shared[good], ranks[good]

        def score(k: int) -> float:
            return round(0.6 + 0.4 * float(jaccard[k]), 3)

        def evidence(k: int) -> dict[str, Any]:
            i, j = int(pairs.atlas[k]), int(pairs.osm[k])
            return {"tokens_shared": sorted(atlas_rows[i] & osm_rows[j]), "jaccard": round(float(jaccard[k]), 3),
                    "rank": int(ranks[k])}

        linked = link_selected(engine, pairs, mutual_best(pairs, -jaccard), self.name, score, evidence)
        engine.record_stage(self.name, {"linked": linked, "pairs_sharing_tokens": len(pairs), "radius_m": radius})


@hookimpl
def stopsync_register_matching_strategies() -> list[type[MatchingStrategy]]:
    return [RouteEvidenceStrategy]
