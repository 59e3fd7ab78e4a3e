"""Review data survives every re-import untouched, on both backends; problems are published."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import sqlalchemy as sa
from flask import Flask

from stopsync.extensions import db
from stopsync.models import AuditLogEntry, Decision, MatchRow, Note, ProblemRow, ProblemState, User
from stopsync.pipeline.lifecycle import record_decision
from stopsync.pipeline.runner import run_pipeline

from ..conftest import sample_sources

REVIEW_TABLES = ("review_users", "review_decisions", "review_notes", "review_audit_log")


def table_digest(table: str) -> tuple[int, str]:
    """Row count and a checksum of every column of every row, in primary-key order."""
    rows = db.session.execute(sa.text(f"SELECT * FROM {table} ORDER BY id")).mappings().all()
    canonical = json.dumps([dict(row) for row in rows], sort_keys=True, default=str)
    return len(rows), hashlib.sha256(canonical.encode()).hexdigest()


def add_reviews() -> None:
    reviewer = User(username="anna", display_name="Anna")
    db.session.add(reviewer)
    db.session.flush()
    problems = db.session.scalars(sa.select(ProblemRow).order_by(ProblemRow.problem_key)).all()
    assert problems, "the sample publishes problems"
    from stopsync.pipeline.problems import Problem

    first = problems[0]
    record_decision(db.session, kind="false_positive", author_id=reviewer.id, problem=Problem(
        first.problem_key, first.type, first.priority, first.sloid, first.osm_id, first.side,
        first.side_reason, first.evidence, first.fingerprint))
    record_decision(db.session, kind="manual_link", sloid="ch:1:sloid:10409:0:1001", osm_id="node/11552206970",
                    author_id=reviewer.id)
    db.session.add(Note(entity_type="atlas", entity_key="ch:1:sloid:10409:0:1001", body="Vasselin: check",
                        author_id=reviewer.id))
    db.session.add(AuditLogEntry(actor="anna", action="decide", target=first.problem_key, details={}))
    db.session.commit()


def test_reviews_survive_a_full_reimport(app: Flask, real_data: Path) -> None:
    app.config.update(sample_sources(real_data))
    first_summary = run_pipeline(app)
    assert first_summary["problems"]["total"] > 0
    with app.app_context():
        add_reviews()
        before = {table: table_digest(table) for table in REVIEW_TABLES}
        assert before["review_decisions"][0] == 2
    run_pipeline(app)
    with app.app_context():
        after = {table: table_digest(table) for table in REVIEW_TABLES}
        states = db.session.scalars(sa.select(ProblemState)).all()
        statuses = {row.status for row in db.session.scalars(sa.select(ProblemRow))}
    assert after == before
    assert states and {"decided", "persisting"} <= statuses
    with app.app_context():
        # The reviewer's manual link fed the first matching stage of the second run.
        method = db.session.scalar(sa.select(MatchRow.method).where(
            MatchRow.sloid == "ch:1:sloid:10409:0:1001", MatchRow.osm_id == "node/11552206970"))
    assert method == "manual_links"


def test_a_failed_run_leaves_reviews_and_snapshot_alone(app: Flask, real_data: Path, tmp_path: Path) -> None:
    app.config.update(sample_sources(real_data))
    run_pipeline(app)
    with app.app_context():
        add_reviews()
        before = {table: table_digest(table) for table in (*REVIEW_TABLES, "problems", "matches")}
    app.config["OSM_SOURCE"] = str(tmp_path / "gone.osm")
    result = app.test_cli_runner().invoke(args=["pipeline", "run"])
    assert result.exit_code == 1
    with app.app_context():
        after = {table: table_digest(table) for table in (*REVIEW_TABLES, "problems", "matches")}
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Decision)) == 2
    assert after == before
