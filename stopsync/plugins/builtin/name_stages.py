"""Name stages: exact name (order 300) and fuzzy name (order 800).

ATLAS ``designationOfficial`` is compared with OSM ``name``, ``uic_name`` and ``gtfs:name``
under the canonical variants of ``names.py`` (full name, stop part without municipality,
each language of a bilingual name). Both stages only look at free OSM representatives within
a distance bound, never link across contradicting platform codes, and link a pair only when
it is unambiguous on both sides.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from rapidfuzz import fuzz
from rapidfuzz.process import cpdist

from ...pipeline.engine import CandidatePairs, MatchEngine
from ...pipeline.names import name_variants, split_municipality
from ...pipeline.names import normalise as normalise_name
from ..base import MatchingStrategy
from ..hookspecs import hookimpl
from .selection import count_per, link_selected, mutual_best, rank_in_atlas

NAME_TAGS = ("name", "uic_name", "gtfs:name")
_CACHE_KEY = "name_table"


@dataclass
class NameTable:
    """Canonical name variants of both sides as integer ids (-1 pads), built once per run."""

    strings: list[str]
    atlas_variants: NDArray[np.int64]  # n_atlas x k
    atlas_variant_full: NDArray[np.bool_]  # the variant keeps the municipality
    osm_variants: NDArray[np.int64]  # n_osm x k
    osm_variant_tag: NDArray[np.int64]  # index into NAME_TAGS
    atlas_full: NDArray[np.int64]  # id of normalise(designationOfficial), 0 = none
    atlas_stop: NDArray[np.int64]  # id of normalise(stop part), 0 = none
    osm_name: NDArray[np.int64]  # id of normalise(name)
    osm_uic_name: NDArray[np.int64]  # id of normalise(uic_name)


def _pad(rows: list[list[int]]) -> NDArray[np.int64]:
    width = max((len(r) for r in rows), default=0) or 1
    out = np.full((len(rows), width), -1, dtype=np.int64)
    for k, row in enumerate(rows):
        out[k, :len(row)] = row
    return out


def name_table(engine: MatchEngine) -> NameTable:
    cached = engine.cache.get(_CACHE_KEY)
    if isinstance(cached, NameTable):
        return cached
    ids: dict[str, int] = {"": 0}

    def intern(text: str) -> int:
        return ids.setdefault(text, len(ids))

    # Names repeat (every platform of a stop has the stop's): each distinct one is folded once.
    @functools.cache
    def variants(name: str, stop_part: bool) -> list[str]:
        return sorted(name_variants(name, stop_part=stop_part))

    normalise = functools.cache(normalise_name)

    atlas_rows, atlas_full_rows = [], []
    for platform in engine.atlas:
        full = set(variants(platform.name, False))
        every = variants(platform.name, True)
        atlas_rows.append([intern(v) for v in every])
        atlas_full_rows.append([v in full for v in every])
    osm_rows, tag_rows = [], []
    for element in engine.osm:
        row, tags = [], []
        for t, tag in enumerate(NAME_TAGS):
            for variant in variants(element.tags.get(tag, ""), False):
                row.append(intern(variant))
                tags.append(t)
        osm_rows.append(row)
        tag_rows.append(tags)
    atlas_variants = _pad(atlas_rows)
    full_mask = np.zeros(atlas_variants.shape, dtype=bool)
    for k, flags in enumerate(atlas_full_rows):
        full_mask[k, :len(flags)] = flags
    table = NameTable(
        strings=[],
        atlas_variants=atlas_variants,
        atlas_variant_full=full_mask,
        osm_variants=_pad(osm_rows),
        osm_variant_tag=_pad(tag_rows),
        atlas_full=np.array([intern(normalise(p.name)) for p in engine.atlas], dtype=np.int64),
        atlas_stop=np.array([intern(normalise(split_municipality(p.name)[1])) for p in engine.atlas],
                            dtype=np.int64),
        osm_name=np.array([intern(normalise(e.tags.get("name", ""))) for e in engine.osm], dtype=np.int64),
        osm_uic_name=np.array([intern(normalise(e.tags.get("uic_name", ""))) for e in engine.osm],
                              dtype=np.int64),
    )
    table.strings = [""] * len(ids)
    for text, k in ids.items():
        table.strings[k] = text
    engine.cache[_CACHE_KEY] = table
    return table


def _first_true(matrix: NDArray[np.bool_]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """(row-major) position of the first True per pair in a pairs x a x o boolean block."""
    if len(matrix) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    flat = matrix.reshape(len(matrix), -1)
    first = flat.argmax(axis=1)
    width = matrix.shape[2]
    return first // width, first % width


class ExactNameStrategy(MatchingStrategy):
    name = "exact_name"
    description = "official name equals name/uic_name/gtfs:name after normalisation, by platform code"
    order = 300

    def run(self, engine: MatchEngine) -> None:
        table = name_table(engine)
        radius = engine.profile.exact_name_max_m
        pairs = engine.candidate_pairs(engine.pending_atlas(), radius)
        ranks = rank_in_atlas(pairs)
        av = table.atlas_variants[pairs.atlas]
        ov = table.osm_variants[pairs.osm]
        equal = (av[:, :, None] == ov[:, None, :]) & (av >= 0)[:, :, None]
        # A name shared with another stop's element is no evidence: its uic_ref says whose it is.
        named = (equal.any(axis=(1, 2)) & ~engine.codes_contradict(pairs.atlas, pairs.osm)
                 & ~engine.uic_contradict(pairs.atlas, pairs.osm))
        agree = engine.codes_agree(pairs.atlas, pairs.osm)
        # Disambiguation: where some same-name candidate carries the platform code, only those.
        atlas_has_agree = np.zeros(len(engine.atlas), dtype=bool)
        atlas_has_agree[pairs.atlas[named & agree]] = True
        keep = named & (agree | ~atlas_has_agree[pairs.atlas])
        kept = pairs.where(keep)
        selected = (count_per(kept.atlas) == 1) & (count_per(kept.osm) == 1)
        # Report the strongest agreement: a full-name variant over a stop part.
        full_equal = equal & table.atlas_variant_full[pairs.atlas][:, :, None]
        strongest = np.where(full_equal.any(axis=(1, 2))[:, None, None], full_equal, equal)
        row, col = _first_true(strongest[keep])
        agree_kept, ranks_kept = agree[keep], ranks[keep]
        full_kept = table.atlas_variant_full[kept.atlas, row]

        def score(k: int) -> float:
            return round(0.9 + 0.05 * bool(full_kept[k]) + 0.05 * bool(agree_kept[k]), 3)

        def evidence(k: int) -> dict[str, Any]:
            tag = NAME_TAGS[int(table.osm_variant_tag[kept.osm[k], col[k]])]
            return {"name_tag": tag, "name": engine.osm[int(kept.osm[k])].tags.get(tag, ""),
                    "normalised": table.strings[int(table.atlas_variants[kept.atlas[k], row[k]])],
                    "variant": "full" if full_kept[k] else "stop_part",
                    "local_ref_agrees": bool(agree_kept[k]), "rank": int(ranks_kept[k])}

        linked = link_selected(engine, kept, selected, self.name, score, evidence)
        engine.record_stage(self.name, {"name_candidates": int(keep.sum()), "ambiguous": int((~selected).sum()),
                                        "linked": linked, "radius_m": radius})


def similarities(engine: MatchEngine, table: NameTable, pairs: CandidatePairs
                 ) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.int64]]:
    """Per pair: best token_sort_ratio / 100 over both sides' variants, and the variant ids."""
    av = table.atlas_variants[pairs.atlas]
    ov = table.osm_variants[pairs.osm]
    n, ka, ko = len(pairs), av.shape[1], ov.shape[1]
    a_ids = np.broadcast_to(av[:, :, None], (n, ka, ko)).reshape(-1)
    o_ids = np.broadcast_to(ov[:, None, :], (n, ka, ko)).reshape(-1)
    pair_of = np.repeat(np.arange(n), ka * ko)
    valid = (a_ids > 0) & (o_ids > 0)
    a_ids, o_ids, pair_of = a_ids[valid], o_ids[valid], pair_of[valid]
    best = np.zeros(n)
    best_a = np.zeros(n, dtype=np.int64)
    best_o = np.zeros(n, dtype=np.int64)
    if len(a_ids) == 0:
        return best, best_a, best_o
    # Each distinct string pair is scored once, in C, on all cores.
    combined = a_ids * (len(table.strings) + 1) + o_ids
    unique, inverse = np.unique(combined, return_inverse=True)
    ua, uo = unique // (len(table.strings) + 1), unique % (len(table.strings) + 1)
    strings = np.array(table.strings, dtype=object)
    scores = cpdist(strings[ua].tolist(), strings[uo].tolist(), scorer=fuzz.token_sort_ratio, workers=-1)
    per_combo = np.asarray(scores, dtype=float)[inverse] / 100.0
    np.maximum.at(best, pair_of, per_combo)
    winner = per_combo == best[pair_of]
    best_a[pair_of[winner]] = a_ids[winner]
    best_o[pair_of[winner]] = o_ids[winner]
    return best, best_a, best_o


class FuzzyNameStrategy(MatchingStrategy):
    name = "fuzzy_name"
    description = "similar names (rapidfuzz token_sort_ratio on normalised names), mutual best"
    order = 800

    def run(self, engine: MatchEngine) -> None:
        table = name_table(engine)
        radius = engine.profile.fuzzy_max_m
        threshold = engine.profile.fuzzy_min_similarity
        total = 0
        for _ in range(5):  # a later round may resolve what a linked neighbour blocked
            linked = self._round(engine, table, radius, threshold)
            total += linked
            if not linked:
                break
        engine.record_stage(self.name, {"linked": total, "radius_m": radius, "min_similarity": threshold})

    def _round(self, engine: MatchEngine, table: NameTable, radius: float, threshold: float) -> int:
        pairs = engine.candidate_pairs(engine.pending_atlas(), radius)
        pairs = pairs.where(~engine.codes_contradict(pairs.atlas, pairs.osm)
                            & ~engine.uic_contradict(pairs.atlas, pairs.osm) & ~engine.nearer_other_platform(pairs))
        pairs = pairs.where(~engine.routes_contradict_pairs(pairs) & ~engine.is_ambiguous(pairs))
        ranks = rank_in_atlas(pairs)
        sim, va, vo = similarities(engine, table, pairs)
        good = sim >= threshold
        pairs, sim, va, vo, ranks = pairs.where(good), sim[good], va[good], vo[good], ranks[good]

        def score(k: int) -> float:
            return round(0.8 * float(sim[k]), 3)

        def evidence(k: int) -> dict[str, Any]:
            return {"similarity": round(float(sim[k]), 3), "atlas_variant": table.strings[int(va[k])],
                    "osm_variant": table.strings[int(vo[k])], "rank": int(ranks[k])}

        return link_selected(engine, pairs, mutual_best(pairs, -sim), self.name, score, evidence)


@hookimpl
def stopsync_register_matching_strategies() -> list[type[MatchingStrategy]]:
    return [ExactNameStrategy, FuzzyNameStrategy]
