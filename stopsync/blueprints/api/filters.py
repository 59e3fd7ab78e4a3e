"""The stop filters shared by ``/stops``, ``/statistics``, ``/random``, ``/overview`` and
``/largest-distances``.

Each filter is a predicate on one side of the data: ``method`` on the link, ``operator`` and
``unmatched_reason`` on the ATLAS platform, ``kind`` and ``osm_operator`` on the OSM element,
``problem_type``/``priority`` on the problems naming the stop, ``matched`` on the stop itself. A
stop of the other side qualifies through its links (an OSM element passes ``operator=PAG`` when it
is linked to a PAG platform). ``canton``, ``mode`` and ``duplicates`` hold on both sides, each stop
on its own (a link by its ATLAS end's canton, by either end's modes, when either end is a
duplicate); ``route`` holds for the stops the route serves and for the stops linked to them.
Values are ORed within one parameter and the parameters are ANDed; ``problem_type`` and
``priority`` are one predicate (a problem of one of those types *and* one of those priorities).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from ...errors import BadRequestError
from ...models import AtlasPlatformRow, MatchRow, OsmElementRow, ProblemRow
from ...models.snapshot import StopModeRow, StopRouteRow
from ...pipeline.cantons import CANTON_CODES
from ...pipeline.engine import UNMATCHED_REASONS
from ...pipeline.stop_routes import MODES
from .params import parse_bool, parse_int_values, parse_values

STOP_FILTER_PARAMETERS = ("method", "matched", "operator", "kind", "problem_type", "priority", "unmatched_reason",
                          "osm_operator", "mode", "canton", "duplicates", "route")
# The filters that pick stops rather than problems.
PROBLEM_FILTERS = ("problem_type", "priority")
MIN_PRIORITY, MAX_PRIORITY = 1, 3
ROUTE_ID_MAX_LENGTH = 160

ATLAS = AtlasPlatformRow.__table__
OSM = OsmElementRow.__table__
LINKS = MatchRow.__table__
PROBLEMS = ProblemRow.__table__
STOP_MODES = StopModeRow.__table__
STOP_ROUTES = StopRouteRow.__table__

Clauses = list[sa.ColumnElement[bool]]
# The right-hand side of a filter's IN, by filter name: the filter's own values (a statement
# built for one request) or a bound parameter standing for them (a statement built once per
# filter shape and reused; see :meth:`StopFilters.shape` and :meth:`StopFilters.parameters`).
Operand = Callable[[str], Any]
# What :meth:`StopFilters.shape` says of a filter given as a list of values.
LISTED = "listed"


def bound_name(name: str) -> str:
    """The bound parameter that stands for the values of filter ``name`` in reused statements."""
    return f"filter_{name}"


def _bound(name: str) -> sa.BindParameter[Any]:
    return sa.bindparam(bound_name(name), expanding=True)


@dataclass(frozen=True)
class StopFilters:
    method: tuple[str, ...] | None = None
    matched: bool | None = None
    operator: tuple[str, ...] | None = None
    kind: tuple[str, ...] | None = None
    problem_type: tuple[str, ...] | None = None
    priority: tuple[int, ...] | None = None
    unmatched_reason: tuple[str, ...] | None = None
    osm_operator: tuple[str, ...] | None = None
    mode: tuple[str, ...] | None = None
    canton: tuple[str, ...] | None = None
    duplicates: bool | None = None
    route: tuple[str, ...] | None = None

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> StopFilters:
        def values(name: str) -> tuple[str, ...] | None:
            parsed = parse_values(args.get(name), name)
            return tuple(parsed) if parsed is not None else None

        priorities = parse_int_values(args.get("priority"), "priority", MIN_PRIORITY, MAX_PRIORITY)
        routes = parse_values(args.get("route"), "route", max_length=ROUTE_ID_MAX_LENGTH)
        return cls(
            method=values("method"),
            matched=parse_bool(args.get("matched"), "matched"),
            operator=values("operator"),
            kind=values("kind"),
            problem_type=values("problem_type"),
            priority=tuple(priorities) if priorities is not None else None,
            unmatched_reason=parse_known(args.get("unmatched_reason"), "unmatched_reason", UNMATCHED_REASONS),
            osm_operator=values("osm_operator"),
            mode=parse_known(args.get("mode"), "mode", MODES),
            canton=parse_known(args.get("canton"), "canton", CANTON_CODES, fold=str.upper),
            duplicates=parse_bool(args.get("duplicates"), "duplicates"),
            route=tuple(routes) if routes is not None else None,
        )

    def normalised(self) -> list[tuple[str, Any]]:
        """The filters as sorted (name, value) pairs: cache keys and cursor fingerprints."""
        return [
            (name, sorted(value) if isinstance(value, tuple) else value)
            for name, value in ((name, getattr(self, name)) for name in STOP_FILTER_PARAMETERS)
            if value is not None
        ]

    def shape(self) -> tuple[Any, ...]:
        """What the SQL of these filters depends on: which filters are set and the values of the
        boolean ones (``matched``, ``duplicates``). Filters of one shape share one statement
        whose value lists are bound parameters (``*_clauses(bound=True)``, :meth:`parameters`)."""
        return tuple(value if value is None or isinstance(value, bool) else LISTED
                     for value in (getattr(self, name) for name in STOP_FILTER_PARAMETERS))

    def parameters(self) -> dict[str, list[Any]]:
        """The values of the listed filters under their bound names (see :meth:`shape`)."""
        return {bound_name(name): list(value) for name, value in
                ((name, getattr(self, name)) for name in STOP_FILTER_PARAMETERS) if isinstance(value, tuple)}

    def _operand(self, bound: bool) -> Operand:
        return _bound if bound else self._values

    def _values(self, name: str) -> tuple[Any, ...]:
        value: tuple[Any, ...] = getattr(self, name)
        return value

    @property
    def active(self) -> bool:
        return bool(self.normalised())

    @property
    def picks_stops(self) -> bool:
        """Whether any filter other than the problem ones is set."""
        return any(getattr(self, name) is not None for name in STOP_FILTER_PARAMETERS if name not in PROBLEM_FILTERS)

    # -- one predicate per side ---------------------------------------------------------------

    def _problem_clause(self, values: Operand) -> sa.ColumnElement[bool] | None:
        clauses: Clauses = []
        if self.problem_type is not None:
            clauses.append(PROBLEMS.c.type.in_(values("problem_type")))
        if self.priority is not None:
            clauses.append(PROBLEMS.c.priority.in_(values("priority")))
        return sa.and_(*clauses) if clauses else None

    def atlas_clauses(self, bound: bool = False) -> Clauses:
        """WHERE clauses on ``atlas_platforms``."""
        values = self._operand(bound)
        clauses: Clauses = []
        if self.matched is not None:
            clauses.append(ATLAS.c.matched.is_(self.matched))
        if self.operator is not None:
            clauses.append(ATLAS.c.operator.in_(values("operator")))
        if self.method is not None:
            clauses.append(sa.exists().where(LINKS.c.sloid == ATLAS.c.sloid, LINKS.c.method.in_(values("method"))))
        if self.kind is not None:
            clauses.append(
                sa.exists().where(LINKS.c.sloid == ATLAS.c.sloid, LINKS.c.osm_id == OSM.c.osm_id,
                                  OSM.c.kind.in_(values("kind")))
            )
        problem = self._problem_clause(values)
        if problem is not None:
            clauses.append(sa.exists().where(PROBLEMS.c.sloid == ATLAS.c.sloid, problem))
        if self.unmatched_reason is not None:
            clauses.append(ATLAS.c.unmatched_reason.in_(values("unmatched_reason")))
        if self.osm_operator is not None:
            clauses.append(
                sa.exists().where(LINKS.c.sloid == ATLAS.c.sloid, LINKS.c.osm_id == OSM.c.osm_id,
                                  OSM.c.operator.in_(values("osm_operator")))
            )
        if self.mode is not None:
            clauses.append(sa.exists().where(STOP_MODES.c.sloid == ATLAS.c.sloid,
                                             STOP_MODES.c.mode.in_(values("mode"))))
        if self.canton is not None:
            clauses.append(ATLAS.c.canton.in_(values("canton")))
        if self.duplicates is not None:
            clauses.append(_is_duplicate(ATLAS, self.duplicates))
        if self.route is not None:
            clauses.append(sa.or_(
                sa.exists().where(STOP_ROUTES.c.sloid == ATLAS.c.sloid, STOP_ROUTES.c.route_id.in_(values("route"))),
                sa.exists().where(LINKS.c.sloid == ATLAS.c.sloid, STOP_ROUTES.c.osm_id == LINKS.c.osm_id,
                                  STOP_ROUTES.c.route_id.in_(values("route"))),
            ))
        return clauses

    def osm_clauses(self, bound: bool = False) -> Clauses:
        """WHERE clauses on ``osm_elements``."""
        values = self._operand(bound)
        clauses: Clauses = []
        if self.matched is not None:
            clauses.append(OSM.c.matched.is_(self.matched))
        if self.kind is not None:
            clauses.append(OSM.c.kind.in_(values("kind")))
        if self.method is not None:
            clauses.append(sa.exists().where(LINKS.c.osm_id == OSM.c.osm_id, LINKS.c.method.in_(values("method"))))
        if self.operator is not None:
            clauses.append(
                sa.exists().where(LINKS.c.osm_id == OSM.c.osm_id, LINKS.c.sloid == ATLAS.c.sloid,
                                  ATLAS.c.operator.in_(values("operator")))
            )
        problem = self._problem_clause(values)
        if problem is not None:
            clauses.append(sa.exists().where(PROBLEMS.c.osm_id == OSM.c.osm_id, problem))
        if self.unmatched_reason is not None:
            clauses.append(sa.false())  # an unmatched platform has no links to qualify through
        if self.osm_operator is not None:
            clauses.append(OSM.c.operator.in_(values("osm_operator")))
        if self.mode is not None:
            clauses.append(sa.exists().where(STOP_MODES.c.osm_id == OSM.c.osm_id,
                                             STOP_MODES.c.mode.in_(values("mode"))))
        if self.canton is not None:
            clauses.append(OSM.c.canton.in_(values("canton")))
        if self.duplicates is not None:
            clauses.append(_is_duplicate(OSM, self.duplicates))
        if self.route is not None:
            clauses.append(sa.or_(
                sa.exists().where(STOP_ROUTES.c.osm_id == OSM.c.osm_id, STOP_ROUTES.c.route_id.in_(values("route"))),
                sa.exists().where(LINKS.c.osm_id == OSM.c.osm_id, STOP_ROUTES.c.sloid == LINKS.c.sloid,
                                  STOP_ROUTES.c.route_id.in_(values("route"))),
            ))
        return clauses

    def link_clauses(self, bound: bool = False) -> Clauses:
        """WHERE clauses on ``matches`` joined to ``atlas_platforms`` and ``osm_elements``."""
        values = self._operand(bound)
        clauses: Clauses = []
        if self.matched is False:
            clauses.append(sa.false())  # every link joins two matched stops
        if self.method is not None:
            clauses.append(LINKS.c.method.in_(values("method")))
        if self.operator is not None:
            clauses.append(ATLAS.c.operator.in_(values("operator")))
        if self.kind is not None:
            clauses.append(OSM.c.kind.in_(values("kind")))
        problem = self._problem_clause(values)
        if problem is not None:
            clauses.append(
                sa.exists().where(sa.or_(PROBLEMS.c.sloid == LINKS.c.sloid, PROBLEMS.c.osm_id == LINKS.c.osm_id),
                                  problem)
            )
        if self.unmatched_reason is not None:
            clauses.append(sa.false())  # a linked platform is matched
        if self.osm_operator is not None:
            clauses.append(OSM.c.operator.in_(values("osm_operator")))
        if self.mode is not None:
            clauses.append(sa.or_(
                sa.exists().where(STOP_MODES.c.sloid == LINKS.c.sloid, STOP_MODES.c.mode.in_(values("mode"))),
                sa.exists().where(STOP_MODES.c.osm_id == LINKS.c.osm_id, STOP_MODES.c.mode.in_(values("mode"))),
            ))
        if self.canton is not None:
            clauses.append(ATLAS.c.canton.in_(values("canton")))
        if self.duplicates is not None:
            either = sa.or_(_is_duplicate(ATLAS, True), _is_duplicate(OSM, True))
            clauses.append(either if self.duplicates else sa.not_(either))
        if self.route is not None:
            clauses.append(sa.or_(
                sa.exists().where(STOP_ROUTES.c.sloid == LINKS.c.sloid, STOP_ROUTES.c.route_id.in_(values("route"))),
                sa.exists().where(STOP_ROUTES.c.osm_id == LINKS.c.osm_id, STOP_ROUTES.c.route_id.in_(values("route"))),
            ))
        return clauses


def _is_duplicate(table: sa.Table, duplicate: bool) -> sa.ColumnElement[bool]:
    """A member of an ATLAS or OSM duplicate group (the ``duplicate_*`` problems) or not."""
    return table.c.duplicate_key != "" if duplicate else table.c.duplicate_key == ""


def parse_known(raw: str | None, name: str, known: tuple[str, ...],
                fold: Callable[[str], str] | None = None) -> tuple[str, ...] | None:
    """Comma-separated values out of a fixed vocabulary (``fold`` normalises each, e.g. to upper
    case); ``None`` when absent, a 400 naming the parameter for an unknown value."""
    values = parse_values(raw, name)
    if values is None:
        return None
    folded = [fold(value) if fold else value for value in values]
    for value in folded:
        if value not in known:
            raise BadRequestError(f"{name} value {value[:40]!r} is not one of {', '.join(known)}", parameter=name)
    return tuple(dict.fromkeys(folded))
