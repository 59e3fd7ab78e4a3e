"""The stop filters shared by ``/stops``, ``/statistics``, ``/random``, ``/overview`` and
``/largest-distances``.

Each filter is a predicate on one side of the data: ``method`` on the link, ``operator`` on the
ATLAS platform, ``kind`` on the OSM element, ``problem_type``/``priority`` on the problems
naming the stop, ``matched`` on the stop itself. A stop of the other side qualifies through its
links (an OSM element passes ``operator=PAG`` when it is linked to a PAG platform). Values are
ORed within one parameter and the parameters are ANDed; ``problem_type`` and ``priority`` are
one predicate (a problem of one of those types *and* one of those priorities).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from ...models import AtlasPlatformRow, MatchRow, OsmElementRow, ProblemRow
from .params import parse_bool, parse_int_values, parse_values

STOP_FILTER_PARAMETERS = ("method", "matched", "operator", "kind", "problem_type", "priority")
MIN_PRIORITY, MAX_PRIORITY = 1, 3

ATLAS = AtlasPlatformRow.__table__
OSM = OsmElementRow.__table__
LINKS = MatchRow.__table__
PROBLEMS = ProblemRow.__table__

Clauses = list[sa.ColumnElement[bool]]


@dataclass(frozen=True)
class StopFilters:
    method: tuple[str, ...] | None = None
    matched: bool | None = None
    operator: tuple[str, ...] | None = None
    kind: tuple[str, ...] | None = None
    problem_type: tuple[str, ...] | None = None
    priority: tuple[int, ...] | None = None

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> StopFilters:
        def values(name: str) -> tuple[str, ...] | None:
            parsed = parse_values(args.get(name), name)
            return tuple(parsed) if parsed is not None else None

        priorities = parse_int_values(args.get("priority"), "priority", MIN_PRIORITY, MAX_PRIORITY)
        return cls(
            method=values("method"),
            matched=parse_bool(args.get("matched"), "matched"),
            operator=values("operator"),
            kind=values("kind"),
            problem_type=values("problem_type"),
            priority=tuple(priorities) if priorities is not None else None,
        )

    def normalised(self) -> list[tuple[str, Any]]:
        """The filters as sorted (name, value) pairs: cache keys and cursor fingerprints."""
        return [
            (name, sorted(value) if isinstance(value, tuple) else value)
            for name, value in ((name, getattr(self, name)) for name in STOP_FILTER_PARAMETERS)
            if value is not None
        ]

    @property
    def active(self) -> bool:
        return bool(self.normalised())

    # -- one predicate per side ---------------------------------------------------------------

    def _problem_clause(self) -> sa.ColumnElement[bool] | None:
        clauses: Clauses = []
        if self.problem_type is not None:
            clauses.append(PROBLEMS.c.type.in_(self.problem_type))
        if self.priority is not None:
            clauses.append(PROBLEMS.c.priority.in_(self.priority))
        return sa.and_(*clauses) if clauses else None

    def atlas_clauses(self) -> Clauses:
        """WHERE clauses on ``atlas_platforms``."""
        clauses: Clauses = []
        if self.matched is not None:
            clauses.append(ATLAS.c.matched.is_(self.matched))
        if self.operator is not None:
            clauses.append(ATLAS.c.operator.in_(self.operator))
        if self.method is not None:
            clauses.append(sa.exists().where(LINKS.c.sloid == ATLAS.c.sloid, LINKS.c.method.in_(self.method)))
        if self.kind is not None:
            clauses.append(
                sa.exists().where(LINKS.c.sloid == ATLAS.c.sloid, LINKS.c.osm_id == OSM.c.osm_id,
                                  OSM.c.kind.in_(self.kind))
            )
        problem = self._problem_clause()
        if problem is not None:
            clauses.append(sa.exists().where(PROBLEMS.c.sloid == ATLAS.c.sloid, problem))
        return clauses

    def osm_clauses(self) -> Clauses:
        """WHERE clauses on ``osm_elements``."""
        clauses: Clauses = []
        if self.matched is not None:
            clauses.append(OSM.c.matched.is_(self.matched))
        if self.kind is not None:
            clauses.append(OSM.c.kind.in_(self.kind))
        if self.method is not None:
            clauses.append(sa.exists().where(LINKS.c.osm_id == OSM.c.osm_id, LINKS.c.method.in_(self.method)))
        if self.operator is not None:
            clauses.append(
                sa.exists().where(LINKS.c.osm_id == OSM.c.osm_id, LINKS.c.sloid == ATLAS.c.sloid,
                                  ATLAS.c.operator.in_(self.operator))
            )
        problem = self._problem_clause()
        if problem is not None:
            clauses.append(sa.exists().where(PROBLEMS.c.osm_id == OSM.c.osm_id, problem))
        return clauses

    def link_clauses(self) -> Clauses:
        """WHERE clauses on ``matches`` joined to ``atlas_platforms`` and ``osm_elements``."""
        clauses: Clauses = []
        if self.matched is False:
            clauses.append(sa.false())  # every link joins two matched stops
        if self.method is not None:
            clauses.append(LINKS.c.method.in_(self.method))
        if self.operator is not None:
            clauses.append(ATLAS.c.operator.in_(self.operator))
        if self.kind is not None:
            clauses.append(OSM.c.kind.in_(self.kind))
        problem = self._problem_clause()
        if problem is not None:
            clauses.append(
                sa.exists().where(sa.or_(PROBLEMS.c.sloid == LINKS.c.sloid, PROBLEMS.c.osm_id == LINKS.c.osm_id),
                                  problem)
            )
        return clauses
