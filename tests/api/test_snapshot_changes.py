"""Caching keyed by the snapshot, and review data (decisions, notes) in the stop details.

These tests change the database, so each gets its own published app."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from flask import Flask

from stopsync.extensions import db
from stopsync.models import AtlasPlatformRow, Decision, Note, SnapshotMeta

from .conftest import GLARUS_NODE, GLARUS_SLOID, SWITZERLAND, Api


def test_cached_reads_are_keyed_by_the_published_run(published_app: Flask) -> None:
    api = Api(published_app)
    before = api.ok("/statistics")
    overview = api.ok("/overview", bbox=SWITZERLAND, zoom=6)
    operators = api.ok("/operators")
    with published_app.app_context():
        db.session.execute(sa.delete(AtlasPlatformRow.__table__).where(AtlasPlatformRow.sloid == GLARUS_SLOID))
        db.session.commit()
    # Same snapshot run: the cached answers stand (nobody else writes a published snapshot).
    assert api.ok("/statistics") == before
    assert api.ok("/overview", bbox=SWITZERLAND, zoom=6)["total"] == overview["total"]
    # A new publication (a new run id) misses the cache at once.
    with published_app.app_context():
        db.session.execute(sa.update(SnapshotMeta.__table__).values(run_id="20990101T000000Z-fresh0"))
        db.session.commit()
    after = api.ok("/statistics")
    assert after["atlas"]["total"] == before["atlas"]["total"] - 1 and after["run_id"] == "20990101T000000Z-fresh0"
    assert api.ok("/overview", bbox=SWITZERLAND, zoom=6)["total"] == overview["total"] - 1
    pag = next(row for row in api.ok("/operators")["operators"] if row["operator"] == "PAG")
    assert pag["platforms"] == next(r for r in operators["operators"] if r["operator"] == "PAG")["platforms"] - 1


def test_details_include_decisions_and_notes(published_app: Flask) -> None:
    with published_app.app_context():
        db.session.add(Decision(sloid=GLARUS_SLOID, osm_id=GLARUS_NODE, kind="link", value={"verdict": "correct"},
                                created_at=datetime(2025, 1, 2, tzinfo=UTC)))
        db.session.add(Note(entity_type="osm", entity_key=GLARUS_NODE, body="checked on site"))
        db.session.add(Note(entity_type="osm", entity_key="node/1", body="elsewhere"))
        db.session.commit()
    body = Api(published_app).ok(f"/stops/{GLARUS_SLOID}")
    assert [(d["kind"], d["value"], d["current"]) for d in body["decisions"]] == [("link", {"verdict": "correct"},
                                                                                   True)]
    assert body["decisions"][0]["created_at"].startswith("2025-01-02T00:00:00")
    assert [n["body"] for n in body["notes"]] == ["checked on site"]
