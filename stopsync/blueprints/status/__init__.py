"""Pipeline status: ``GET /api/v1/status`` (JSON), the ``/status`` page with the phase timeline,
and the navbar line every page shows ("data from ATLAS <date>, OSM <date>; next update <time>").
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, render_template, request
from flask_babel import gettext as _

from ...extensions import db
from ...pipeline.status import cached_status, read_status
from ..api.params import reject_unknown

log = logging.getLogger(__name__)

bp = Blueprint("status", __name__)


@bp.get("/api/v1/status")
def status_api() -> Response:
    """idle / running (phase, progress, ETA) / failed (error), the last success, the next run and
    the published dataset timestamps of each source."""
    # Like every API endpoint: an unknown parameter is a 400 naming it.
    reject_unknown(request.args, ())
    return jsonify(read_status(current_app._get_current_object(), db.session))  # type: ignore[attr-defined]


@bp.get("/status")
def status_page() -> str:
    document = read_status(current_app._get_current_object(), db.session)  # type: ignore[attr-defined]
    return render_template("status.html", status=document, timeline=phase_timeline(document.get("run")),
                           state_labels=state_labels())


def state_labels() -> dict[str, str]:
    """The pipeline's and each phase's state, as the page names them in the reader's language."""
    return {"idle": _("idle"), "running": _("running"), "failed": _("failed"), "done": _("done"),
            "pending": _("pending")}


def phase_timeline(run: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Each planned phase with its state (done, running, failed, pending) and duration."""
    if not run:
        return []
    timings = run.get("timings") or {}
    rows: list[dict[str, Any]] = []
    for phase in run.get("plan") or []:
        if phase in timings:
            state = "done"
        elif run.get("status") == "running" and run.get("phase") == phase:
            state = "running"
        elif run.get("status") == "failed" and not rows_failed(rows):
            state = "failed"
        else:
            state = "pending"
        rows.append({"phase": phase, "state": state, "seconds": timings.get(phase)})
    return rows


def rows_failed(rows: list[dict[str, Any]]) -> bool:
    return any(row["state"] == "failed" for row in rows)


def _day(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value).date().isoformat()
    except ValueError:
        return value


def navbar_line(document: dict[str, Any]) -> str:
    datasets = (document.get("published") or {}).get("datasets") or {}
    parts = []
    dates = [f"{label} {_day(datasets[kind].get('timestamp'))}" for kind, label in (("atlas", "ATLAS"), ("osm", "OSM"))
             if kind in datasets]
    parts.append(_("data from {datasets}").format(datasets=", ".join(dates)) if dates
                 else _("no data published yet"))
    run = document.get("run") or {}
    if document.get("state") == "running" and run.get("phase"):
        parts.append(_("updating now: {phase}").format(phase=run["phase"]))
    elif document.get("next_run"):
        parts.append(_("next update {time}").format(time=str(document["next_run"]).replace("T", " ")[:16]))
    return "; ".join(parts)


@bp.app_context_processor
def inject_status() -> dict[str, Any]:
    """One Redis GET (or a process-cached database read) per page; a page never fails for it."""
    try:
        document = cached_status(current_app._get_current_object(), db.session)  # type: ignore[attr-defined]
    except Exception:
        log.warning("status unavailable for the navbar", exc_info=True)
        db.session.rollback()
        return {"status_line": None, "status_state": None}
    return {"status_line": navbar_line(document), "status_state": document.get("state")}
