"""Durable review tables: people's decisions and notes. No import ever truncates them; they
refer to data by stable keys (SLOID, ``node/123``, problem key), never by snapshot row ids."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import JsonType


def _now() -> datetime:
    return datetime.now(UTC)


class User(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "review_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(80), unique=True)
    display_name: Mapped[str] = mapped_column(sa.String(120), default="")
    email: Mapped[str | None] = mapped_column(sa.String(255))
    role: Mapped[str] = mapped_column(sa.String(16), default="reviewer")
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=_now)


class Decision(db.Model):  # type: ignore[name-defined,misc]
    """A reviewer's conclusion. A new decision supersedes the old one; none is overwritten."""

    __tablename__ = "review_decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    problem_key: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    problem_type: Mapped[str | None] = mapped_column(sa.String(32))
    sloid: Mapped[str | None] = mapped_column(sa.String(64), index=True)
    osm_id: Mapped[str | None] = mapped_column(sa.String(32), index=True)
    kind: Mapped[str] = mapped_column(sa.String(32))
    value: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    evidence_fingerprint: Mapped[str | None] = mapped_column(sa.String(64))
    author_id: Mapped[int | None] = mapped_column(sa.ForeignKey("review_users.id"))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=_now)
    superseded_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    # Set while an entity the decision names is absent from the published data; never deleted.
    orphaned_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))


class Note(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "review_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    entity_type: Mapped[str] = mapped_column(sa.String(8))  # "atlas" | "osm"
    entity_key: Mapped[str] = mapped_column(sa.String(64), index=True)
    body: Mapped[str] = mapped_column(sa.Text)
    author_id: Mapped[int | None] = mapped_column(sa.ForeignKey("review_users.id"))
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=_now)


class AuditLogEntry(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "review_audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=_now, index=True)
    actor: Mapped[str] = mapped_column(sa.String(80))
    action: Mapped[str] = mapped_column(sa.String(32))
    target: Mapped[str] = mapped_column(sa.String(128))
    details: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)


class ProblemState(db.Model):  # type: ignore[name-defined,misc]
    """The lifecycle of one problem key across runs (durable: publication never truncates it)."""

    __tablename__ = "review_problem_states"

    problem_key: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    type: Mapped[str] = mapped_column(sa.String(32))
    sloid: Mapped[str | None] = mapped_column(sa.String(64))
    osm_id: Mapped[str | None] = mapped_column(sa.String(32))
    priority: Mapped[int] = mapped_column(sa.SmallInteger)
    status: Mapped[str] = mapped_column(sa.String(16), index=True)
    fingerprint: Mapped[str] = mapped_column(sa.String(32))
    first_seen_run: Mapped[str] = mapped_column(sa.String(64))
    last_seen_run: Mapped[str] = mapped_column(sa.String(64))
    resolved_run: Mapped[str | None] = mapped_column(sa.String(64))
    updated_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), default=_now)
