"""The decision lifecycle across three consecutive publications, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from flask import Flask

from stopsync.extensions import db
from stopsync.models import Decision, ProblemState
from stopsync.pipeline.lifecycle import apply_lifecycle, manual_links, record_decision
from stopsync.pipeline.problems import Problem, problem_key

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def prob(kind: str, sloid: str | None, osm_id: str | None, priority: int, fingerprint: str) -> Problem:
    keys = [k for k in (sloid, osm_id) if k]
    return Problem(problem_key(kind, *keys), kind, priority, sloid, osm_id, "unknown", "", {}, fingerprint)


def publish(run: str, problems: list[Problem], atlas: set[str], osm: set[str], day: int) -> dict:
    result = apply_lifecycle(db.session, problems, run, atlas_sloids=atlas, osm_ids=osm,
                             now=T0 + timedelta(days=day))
    db.session.commit()
    return {"status": result.status_of, "changes": result.changes}


def test_three_publications_with_edits_in_between(app: Flask) -> None:
    a = prob("distance", "s1", "node/1", 2, "fa-30m")
    b = prob("unmatched_atlas", "s2", None, 3, "fb-p3")
    c = prob("attributes", "s4", "node/4", 1, "fc")
    with app.app_context():
        first = publish("run1", [a, b, c], {"s1", "s2", "s3", "s4"}, {"node/1", "node/4", "node/9"}, 1)
        assert first["status"] == {a.key: "new", b.key: "new", c.key: "new"}
        assert first["changes"]["totals"] == {"new": 3, "resolved": 0, "reopened": 0}
        assert first["changes"]["new"]["distance"] == {"P2": 1}

        # Reviewers decide on A and B, and link s3 to node/9 by hand.
        record_decision(db.session, kind="atlas_correct", problem=a, now=T0 + timedelta(days=1, hours=1))
        record_decision(db.session, kind="missing_in_osm", problem=b, now=T0 + timedelta(days=1, hours=2))
        record_decision(db.session, kind="manual_link", sloid="s3", osm_id="node/9")
        db.session.commit()

        # Run 2: A unchanged in substance (same fingerprint), B's evidence changed, C solved
        # upstream, D appears.
        b2 = prob("unmatched_atlas", "s2", None, 2, "fb-p2")
        d = prob("duplicate_atlas", "s5", None, 2, "fd")
        second = publish("run2", [a, b2, d], {"s1", "s2", "s3", "s4", "s5"}, {"node/1", "node/4", "node/9"}, 2)
        assert second["status"] == {a.key: "decided", b2.key: "reopened", d.key: "new"}
        assert second["changes"]["totals"] == {"new": 1, "resolved": 1, "reopened": 1}
        assert second["changes"]["resolved"] == {"attributes": {"P1": 1}}
        state_c = db.session.get(ProblemState, c.key)
        assert state_c is not None and state_c.status == "resolved" and state_c.resolved_run == "run2"

        # Run 3: s2 vanished from ATLAS (B disappears, its decision is orphaned, not deleted);
        # node/9 vanished too, so the manual link is orphaned and no longer fed to matching.
        assert manual_links(db.session) == [{"sloid": "s3", "osm_id": "node/9"}]
        third = publish("run3", [a, d], {"s1", "s3", "s4", "s5"}, {"node/1", "node/4"}, 3)
        assert third["status"] == {a.key: "decided", d.key: "persisting"}
        assert third["changes"]["totals"] == {"new": 0, "resolved": 1, "reopened": 0}
        assert third["changes"]["orphaned_decisions"] == 2
        decisions = db.session.scalars(sa.select(Decision).order_by(Decision.id)).all()
        assert len(decisions) == 3  # nothing deleted
        orphaned = {(x.kind, x.orphaned_at is not None) for x in decisions}
        assert orphaned == {("atlas_correct", False), ("missing_in_osm", True), ("manual_link", True)}
        assert manual_links(db.session) == []

        # Run 4: node/9 is back; the manual link is restored.
        fourth = publish("run4", [a, d], {"s1", "s3", "s4", "s5"}, {"node/1", "node/4", "node/9"}, 4)
        assert fourth["changes"]["restored_decisions"] == 1
        assert manual_links(db.session) == [{"sloid": "s3", "osm_id": "node/9"}]


def test_a_new_decision_supersedes_without_overwriting(app: Flask) -> None:
    a = prob("distance", "s1", "node/1", 2, "f1")
    with app.app_context():
        publish("run1", [a], {"s1"}, {"node/1"}, 1)
        record_decision(db.session, kind="atlas_correct", problem=a, now=T0 + timedelta(days=1))
        record_decision(db.session, kind="not_a_match", problem=a, now=T0 + timedelta(days=2))
        db.session.commit()
        rows = db.session.scalars(sa.select(Decision).order_by(Decision.created_at)).all()
        assert [(r.kind, r.superseded_at is not None) for r in rows] == [("atlas_correct", True),
                                                                         ("not_a_match", False)]
        # Only the newest decision counts for the lifecycle.
        assert publish("run2", [a], {"s1"}, {"node/1"}, 3)["status"] == {a.key: "decided"}


def test_a_resolved_problem_that_returns_is_new_again(app: Flask) -> None:
    a = prob("distance", "s1", "node/1", 2, "f1")
    with app.app_context():
        publish("run1", [a], {"s1"}, {"node/1"}, 1)
        publish("run2", [], {"s1"}, {"node/1"}, 2)
        again = publish("run3", [a], {"s1"}, {"node/1"}, 3)
        assert again["status"] == {a.key: "new"}
        state = db.session.get(ProblemState, a.key)
        assert state is not None and state.first_seen_run == "run1" and state.resolved_run is None


def test_decision_kinds_fit_their_problem_type(app: Flask) -> None:
    import pytest

    from stopsync.errors import BadRequestError
    from stopsync.models import AuditLogEntry

    a = prob("distance", "s1", "node/1", 2, "f1")
    attrs = prob("attributes", "s1", "node/1", 1, "f2")
    with app.app_context():
        with pytest.raises(BadRequestError, match="does not fit a distance problem"):
            record_decision(db.session, kind="keep", problem=a)
        with pytest.raises(BadRequestError, match="per_attribute needs"):
            record_decision(db.session, kind="per_attribute", problem=attrs, value={"name": "maybe"})
        with pytest.raises(BadRequestError, match="needs a problem"):
            record_decision(db.session, kind="keep", sloid="s1")
        with pytest.raises(BadRequestError, match="both a SLOID and an OSM id"):
            record_decision(db.session, kind="manual_link", sloid="s1")
        with pytest.raises(BadRequestError, match="a problem, a SLOID or an OSM id"):
            record_decision(db.session, kind="skip")
        record_decision(db.session, kind="false_positive", problem=a)
        record_decision(db.session, kind="per_attribute", problem=attrs, value={"name": "use_atlas"})
        db.session.commit()
        audit = db.session.scalars(sa.select(AuditLogEntry).order_by(AuditLogEntry.id)).all()
        assert [(e.action, e.target) for e in audit] == [("decide:false_positive", a.key),
                                                         ("decide:per_attribute", attrs.key)]


def test_an_entity_decision_covers_the_entitys_problems(app: Flask) -> None:
    unmatched = prob("unmatched_atlas", "s7", None, 1, "f1")
    distance = prob("distance", "s7", "node/7", 2, "f2")
    with app.app_context():
        publish("run1", [unmatched], {"s7"}, {"node/7"}, 1)
        record_decision(db.session, kind="should_be_deleted", sloid="s7")
        db.session.commit()
        # It fits the unmatched problem, not a distance problem of the same platform.
        second = publish("run2", [unmatched, distance], {"s7"}, {"node/7"}, 2)
        assert second["status"] == {unmatched.key: "decided", distance.key: "new"}
