"""Decision lifecycle after every publication.

For each open problem: ``new``, ``persisting``, ``reopened`` (a decision exists but the
evidence it was made on changed materially) or ``decided`` (a still-valid decision covers it).
Problems that disappeared become ``resolved`` with the run that resolved them. Decisions whose
entities vanished are marked orphaned, never deleted (and un-marked when the entities return).
Everything here lives in the durable ``review_*`` tables.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..errors import BadRequestError
from ..models import AuditLogEntry, Decision, ProblemState
from .problems import Problem

OPEN_STATUSES = ("new", "persisting", "reopened", "decided")
MANUAL_LINK = "manual_link"

# What a reviewer can conclude, per problem type (DOMAIN.md §5), plus the states every type has.
GENERAL_DECISIONS = ("false_positive", "skip", "fixed")
DECISION_KINDS: dict[str, tuple[str, ...]] = {
    "distance": ("atlas_correct", "osm_correct", "both_correct", "not_a_match"),
    "attributes": ("use_atlas", "use_osm", "per_attribute"),
    "unmatched_atlas": ("missing_in_osm", "should_be_deleted"),
    "unmatched_osm": ("missing_in_atlas", "should_be_deleted"),
    "duplicate_atlas": ("keep", "delete"),
    "duplicate_osm": ("keep", "delete"),
    "route_contradiction": ("link_correct", "not_a_match"),
}
# "per_attribute" carries {"attribute": "use_atlas" | "use_osm", ...} in the decision value.
ATTRIBUTE_CHOICES = ("use_atlas", "use_osm")


# Decisions on an entity (a SLOID, an OSM element, or a pair of both) rather than one problem;
# they cover every current and future problem of that entity whose type they fit.
ENTITY_DECISIONS = (MANUAL_LINK, "not_a_match", "should_be_deleted", "missing_in_osm", "missing_in_atlas",
                    *GENERAL_DECISIONS)


def check_decision(kind: str, problem_type: str | None, value: Mapping[str, Any]) -> None:
    """Refuse a decision that does not fit its problem type, naming what would."""
    if problem_type is None:
        if kind not in ENTITY_DECISIONS:
            raise BadRequestError(
                f"decision {kind!r} needs a problem; on an entity use one of {', '.join(ENTITY_DECISIONS)}",
                parameter="kind",
            )
        return
    allowed = (*DECISION_KINDS.get(problem_type, ()), *GENERAL_DECISIONS)
    if kind not in allowed:
        raise BadRequestError(
            f"decision {kind!r} does not fit a {problem_type} problem; use one of {', '.join(allowed)}",
            parameter="kind",
        )
    if kind == "per_attribute":
        bad = {k: v for k, v in value.items() if v not in ATTRIBUTE_CHOICES}
        if not value or bad:
            raise BadRequestError(
                "per_attribute needs {attribute: use_atlas|use_osm} for each attribute", parameter="value"
            )


@dataclass
class LifecycleResult:
    status_of: dict[str, str] = field(default_factory=dict)  # problem key -> status
    changes: dict[str, Any] = field(default_factory=dict)
    orphaned: int = 0
    restored: int = 0
    duration_s: float = 0.0


def active_decisions(session: Session) -> list[Decision]:
    """Decisions not superseded by a newer one (orphaned ones included)."""
    return list(session.scalars(sa.select(Decision).where(Decision.superseded_at.is_(None))))


def _change_table(events: Iterable[tuple[str, str, int]]) -> dict[str, Any]:
    """{event: {type: {"P1": n, ...}}} plus totals per event."""
    table: dict[str, Any] = {}
    totals: Counter[str] = Counter()
    for event, problem_type, priority in events:
        per_type = table.setdefault(event, {}).setdefault(problem_type, {})
        per_type[f"P{priority}"] = per_type.get(f"P{priority}", 0) + 1
        totals[event] += 1
    return {"totals": {e: totals.get(e, 0) for e in ("new", "resolved", "reopened")}, **table}


def apply_lifecycle(
    session: Session,
    problems: Sequence[Problem],
    run_id: str,
    *,
    atlas_sloids: set[str],
    osm_ids: set[str],
    now: datetime | None = None,
) -> LifecycleResult:
    """Update problem states and decision orphaning for a newly published snapshot.
    The caller commits (in the same transaction as the snapshot where possible)."""
    started = time.perf_counter()
    now = now or datetime.now(UTC)
    states = {s.problem_key: s for s in session.scalars(sa.select(ProblemState))}
    decisions = active_decisions(session)
    ordered = sorted(decisions, key=lambda d: d.created_at)
    decision_for = {d.problem_key: d for d in ordered if d.problem_key}
    entity_decisions = {(d.sloid, d.osm_id): d for d in ordered if not d.problem_key and d.kind != MANUAL_LINK}
    result = LifecycleResult()
    events: list[tuple[str, str, int]] = []
    seen: set[str] = set()
    for problem in problems:
        seen.add(problem.key)
        state = states.get(problem.key)
        decision = decision_for.get(problem.key) or _entity_decision(entity_decisions, problem)
        if decision is not None:
            valid = decision.evidence_fingerprint in (None, problem.fingerprint)
            status = "decided" if valid else "reopened"
        elif state is None or state.status == "resolved":
            status = "new"
        else:
            status = "persisting"
        was_reopened = state is not None and state.status == "reopened"
        if status == "new" or (status == "reopened" and not was_reopened):
            events.append((status, problem.type, problem.priority))
        if state is None:
            state = ProblemState(problem_key=problem.key, first_seen_run=run_id)
            session.add(state)
        state.type, state.sloid, state.osm_id = problem.type, problem.sloid, problem.osm_id
        state.priority, state.fingerprint, state.status = problem.priority, problem.fingerprint, status
        state.last_seen_run, state.resolved_run, state.updated_at = run_id, None, now
        result.status_of[problem.key] = status
    for key, state in states.items():
        if key not in seen and state.status in OPEN_STATUSES:
            state.status, state.resolved_run, state.updated_at = "resolved", run_id, now
            events.append(("resolved", state.type, state.priority))
    for decision in decisions:
        present = (decision.sloid is None or decision.sloid in atlas_sloids) and (
            decision.osm_id is None or decision.osm_id in osm_ids)
        if not present and decision.orphaned_at is None:
            decision.orphaned_at = now
            result.orphaned += 1
        elif present and decision.orphaned_at is not None:
            decision.orphaned_at = None
            result.restored += 1
    result.changes = _change_table(events)
    result.changes["orphaned_decisions"] = result.orphaned
    result.changes["restored_decisions"] = result.restored
    result.duration_s = round(time.perf_counter() - started, 3)
    return result


def _entity_decision(decisions: Mapping[tuple[str | None, str | None], Decision],
                     problem: Problem) -> Decision | None:
    """A decision on the problem's entity whose kind fits the problem's type."""
    fits = (*DECISION_KINDS.get(problem.type, ()), *GENERAL_DECISIONS)
    for key in ((problem.sloid, problem.osm_id), (problem.sloid, None), (None, problem.osm_id)):
        decision = decisions.get(key)
        if decision is not None and decision.kind in fits and key != (None, None):
            return decision
    return None


def manual_links(session: Session) -> list[dict[str, str]]:
    """Reviewers' manual links for the matching engine's first stage (orphaned ones skipped)."""
    rows = session.scalars(
        sa.select(Decision).where(
            Decision.kind == MANUAL_LINK, Decision.superseded_at.is_(None), Decision.orphaned_at.is_(None),
            Decision.sloid.is_not(None), Decision.osm_id.is_not(None),
        ).order_by(Decision.created_at)
    )
    return [{"sloid": str(d.sloid), "osm_id": str(d.osm_id)} for d in rows]


def record_decision(
    session: Session,
    *,
    kind: str,
    problem: Problem | None = None,
    sloid: str | None = None,
    osm_id: str | None = None,
    value: dict[str, Any] | None = None,
    author_id: int | None = None,
    now: datetime | None = None,
) -> Decision:
    """Add a decision; an earlier active decision on the same problem (or the same manual link
    target) is superseded, never overwritten, so the history stays complete. Every decision is
    also written to the audit log."""
    check_decision(kind, problem.type if problem else None, value or {})
    if problem is None and kind in (MANUAL_LINK, "not_a_match") and not (sloid and osm_id):
        raise BadRequestError(f"{kind} needs both a SLOID and an OSM id", parameter="osm_id")
    if problem is None and not (sloid or osm_id):
        raise BadRequestError("a decision needs a problem, a SLOID or an OSM id", parameter="sloid")
    now = now or datetime.now(UTC)
    query = sa.select(Decision).where(Decision.superseded_at.is_(None))
    if problem is not None:
        query = query.where(Decision.problem_key == problem.key)
    else:
        # One active entity decision per entity (or pair); a new one supersedes it.
        query = query.where(Decision.problem_key.is_(None), Decision.sloid.is_(sloid) if sloid is None
                            else Decision.sloid == sloid, Decision.osm_id.is_(osm_id) if osm_id is None
                            else Decision.osm_id == osm_id)
    for older in session.scalars(query):
        older.superseded_at = now
    decision = Decision(
        problem_key=problem.key if problem else None,
        problem_type=problem.type if problem else None,
        sloid=sloid if sloid is not None else (problem.sloid if problem else None),
        osm_id=osm_id if osm_id is not None else (problem.osm_id if problem else None),
        kind=kind, value=value or {}, author_id=author_id, created_at=now,
        evidence_fingerprint=problem.fingerprint if problem else None,
    )
    session.add(decision)
    session.add(AuditLogEntry(
        at=now, actor=str(author_id) if author_id is not None else "system", action=f"decide:{kind}",
        target=problem.key if problem else f"{sloid}|{osm_id}", details={"value": value or {}},
    ))
    return decision
