"""Vectorised choices over candidate pairs, shared by the built-in matching stages.

A stage computes a cost (distance, or minus a similarity) per candidate pair; these helpers
pick the pairs that are the unique best for their ATLAS platform and/or their OSM element,
without a Python loop over pairs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ...pipeline.engine import CandidatePairs, MatchEngine


def unique_best(keys: NDArray[np.int64], cost: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Per pair: it has the lowest cost among the pairs with the same key, and no tie."""
    if len(keys) == 0:
        return np.zeros(0, dtype=bool)
    _, group = np.unique(keys, return_inverse=True)
    lowest = np.full(group.max() + 1, np.inf)
    np.minimum.at(lowest, group, cost)
    is_lowest = cost == lowest[group]
    ties = np.bincount(group, weights=is_lowest.astype(float))
    return np.asarray(is_lowest & (ties[group] == 1))


def mutual_best(pairs: CandidatePairs, cost: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Pairs that are the unique best of their ATLAS platform *and* of their OSM element."""
    return unique_best(pairs.atlas, cost) & unique_best(pairs.osm, cost)


def count_per(keys: NDArray[np.int64]) -> NDArray[np.int64]:
    """Per pair: how many pairs share its key."""
    if len(keys) == 0:
        return np.zeros(0, dtype=np.int64)
    _, group, counts = np.unique(keys, return_inverse=True, return_counts=True)
    return np.asarray(counts[group], dtype=np.int64)


def rank_in_atlas(pairs: CandidatePairs) -> NDArray[np.int64]:
    """1-based rank of each pair by distance among its ATLAS platform's candidates (pairs are
    sorted by ATLAS then distance, as :meth:`MatchEngine.candidate_pairs` returns them)."""
    n = len(pairs)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.r_[True, pairs.atlas[1:] != pairs.atlas[:-1]]
    first = np.maximum.accumulate(np.where(starts, np.arange(n), 0))
    return np.arange(n) - first + 1


def distance_score(distance: float, radius: float, top: float) -> float:
    """``top`` at 0 m falling linearly to ``top / 2`` at the radius."""
    return round(top * (1 - 0.5 * min(distance / radius, 1.0)) if radius > 0 else top, 3)


def link_selected(
    engine: MatchEngine, pairs: CandidatePairs, selected: NDArray[np.bool_], method: str,
    score: Callable[[int], float], evidence: Callable[[int], Mapping[str, Any]],
) -> int:
    """Link the selected pairs exclusively; returns how many links the engine accepted."""
    linked = 0
    for k in np.flatnonzero(selected).tolist():
        if engine.link(int(pairs.atlas[k]), int(pairs.osm[k]), method, score=score(k),
                       evidence=evidence(k), exclusive=True) is not None:
            linked += 1
    return linked
