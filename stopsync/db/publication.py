"""Publication SQL per backend: how a new snapshot replaces the published one atomically.

Owned by :mod:`stopsync.db.dialect` (``snapshot_publisher`` picks the class); nothing else
imports the two publishers directly.

PostGIS: the new snapshot is loaded with ``COPY`` into the private schema ``stopsync_staging``
(tables made ``LIKE`` the published ones, so whatever a later migration added comes along),
then constraints and indexes are created under the names the published tables carry, then
``ANALYZE`` and validation. The swap is one short transaction: the decision lifecycle, then
``ALTER TABLE ... SET SCHEMA`` moves the published tables into ``stopsync_previous`` (kept for
one rollback) and the staging tables into ``public``. A query waiting on the swap's locks
re-resolves the table names after the commit, so it reads the new tables; no reader ever sees an
empty or half-loaded table.

SQLite: one write transaction copies the published tables to ``<table>__previous`` (for one
rollback), applies the lifecycle, replaces the rows and validates; WAL keeps readers on the old
snapshot until the commit.
"""

from __future__ import annotations

import abc
import io
import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ..errors import StopsyncError

log = logging.getLogger(__name__)

STAGING_SCHEMA = "stopsync_staging"
PREVIOUS_SCHEMA = "stopsync_previous"
ROLLBACK_SCHEMA = "stopsync_rollback"
PUBLIC_SCHEMA = "public"
SQLITE_PREVIOUS_SUFFIX = "__previous"
# Set on the loading connection so that operators (and the tests) can find it in pg_stat_activity.
APPLICATION_NAME = "stopsync-publish"

# Parents before children: the order of loading; the reverse is the order of emptying. The
# tables API requests lock up front (dialect.hold_snapshot_for_reading) come first: the swap locks
# the tables in this order, so it holds none of the later ones while it waits for a reader of the
# first ones.
LOAD_ORDER = ("atlas_platforms", "osm_elements", "osm_stop_units", "matches", "problems", "snapshot_meta",
              "stop_modes", "stop_routes", "overview_cells")

# (child table, column, parent table, parent column): every reference the snapshot must satisfy.
REFERENCES = (
    ("matches", "sloid", "atlas_platforms", "sloid"),
    ("matches", "osm_id", "osm_elements", "osm_id"),
    ("problems", "sloid", "atlas_platforms", "sloid"),
    ("problems", "osm_id", "osm_elements", "osm_id"),
    ("stop_modes", "sloid", "atlas_platforms", "sloid"),
    ("stop_modes", "osm_id", "osm_elements", "osm_id"),
    ("stop_routes", "sloid", "atlas_platforms", "sloid"),
    ("stop_routes", "osm_id", "osm_elements", "osm_id"),
)

# Applies the decision lifecycle inside the given connection's transaction (with ``write``
# False it only computes, writing nothing); returns each problem key's status, which the
# published problems carry.
LifecycleStep = Callable[[Connection, bool], Mapping[str, str]]
# How long the swap tries to take its locks without queueing before it queues (see _lock_published).
NOWAIT_WINDOW_S = 1.0
# Reports a publication step: (step, done, total).
StepCallback = Callable[[str, int, int], None]


class PublicationError(StopsyncError):
    """The new snapshot failed validation or could not be swapped in; nothing was published."""

    code = "publication_failed"


class NothingToRollBackError(StopsyncError):
    code = "nothing_to_roll_back"


def _noop_step(_step: str, _done: int, _total: int) -> None:
    return None


class SnapshotPublisher(abc.ABC):
    """The contract both backends fulfil."""

    def __init__(self, engine: Engine, tables: Mapping[str, sa.Table], *, lock_timeout_s: float = 10.0,
                 swap_attempts: int = 3) -> None:
        self.engine = engine
        self.tables = tables
        self.lock_timeout_s = lock_timeout_s
        self.swap_attempts = swap_attempts
        # Called right before the swap (or the SQLite write transaction): a last chance to stop.
        self.before_swap: Callable[[], None] = lambda: None
        self.last_lock_hold_s = 0.0

    @abc.abstractmethod
    def publish(self, rows: Mapping[str, list[dict[str, Any]]], lifecycle: LifecycleStep,
                on_step: StepCallback = _noop_step) -> dict[str, int]:
        """Make ``rows`` the published snapshot (with the lifecycle in the same transaction);
        returns the row count per table."""

    @abc.abstractmethod
    def rollback(self) -> str:
        """Swap the kept previous snapshot back in; returns the run id it restores."""

    @abc.abstractmethod
    def has_previous(self) -> bool:
        """Whether a previous snapshot is kept for a rollback."""

    @abc.abstractmethod
    def recover(self) -> bool:
        """Remove what a killed publication left behind; True when there was something."""


def validate_snapshot(connection: Connection, counts: Mapping[str, int], table: Callable[[str], str]) -> None:
    """Row counts as produced, and no row naming a platform or element that is not there;
    ``table`` gives the quoted (schema-qualified) name of each snapshot table."""
    for name in LOAD_ORDER:
        found = connection.execute(sa.text(f"SELECT count(*) FROM {table(name)}")).scalar()
        if found != counts.get(name, 0):
            raise PublicationError(f"table {table(name)} holds {found} rows, expected {counts.get(name, 0)}")
    for child, column, parent, parent_column in REFERENCES:
        orphans = connection.execute(sa.text(
            f"SELECT count(*) FROM {table(child)} c WHERE c.{column} IS NOT NULL AND NOT EXISTS "
            f"(SELECT 1 FROM {table(parent)} p WHERE p.{parent_column} = c.{column})")).scalar()
        if orphans:
            raise PublicationError(f"{orphans} rows of {child}.{column} name no {parent}.{parent_column}")


def _with_statuses(rows: Mapping[str, list[dict[str, Any]]], status_of: Mapping[str, str]) -> None:
    for row in rows.get("problems", []):
        row["status"] = status_of.get(row["problem_key"], "new")


# --- PostGIS ----------------------------------------------------------------------------------


def _copy_text(value: Any, column_type: sa.types.TypeEngine[Any]) -> str:
    """One value in PostgreSQL's COPY text format (NULL is ``\\N``; backslash escapes)."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(column_type, sa.JSON) or isinstance(value, dict | list):
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    elif isinstance(value, float):
        text = repr(value)
    else:
        text = str(value)
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        text = text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return text


class CopyBuffer(io.TextIOBase):
    """A file-like view of rows in COPY text format, produced lazily in chunks (``copy_expert``
    reads it), so a national table never sits in memory twice."""

    def __init__(self, lines: Iterator[str], chunk_rows: int = 2000) -> None:
        self._lines = lines
        self._chunk_rows = chunk_rows
        self._pending = ""

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> str:
        want = size if size is not None and size >= 0 else None
        while want is None or len(self._pending) < want:
            chunk = "".join(line for _, line in zip(range(self._chunk_rows), self._lines, strict=False))
            if not chunk:
                break
            self._pending += chunk
        if want is None:
            out, self._pending = self._pending, ""
        else:
            out, self._pending = self._pending[:want], self._pending[want:]
        return out

    def readline(self, size: int | None = -1) -> str:  # type: ignore[override]
        return self.read(size)


def copy_lines(rows: Iterable[Mapping[str, Any]], columns: Sequence[sa.Column[Any]]) -> Iterator[str]:
    """COPY text lines for ``rows``; the ``id`` column numbers the rows from 1."""
    names = [column.name for column in columns]
    types = [column.type for column in columns]
    for number, row in enumerate(rows, start=1):
        values = [str(number) if name == "id" else _copy_text(row.get(name), kind)
                  for name, kind in zip(names, types, strict=True)]
        yield "\t".join(values) + "\n"


def _qualified(schema: str, table: str) -> str:
    return f'"{schema}"."{table}"'


class PostgresPublisher(SnapshotPublisher):
    def recover(self) -> bool:
        with self.engine.begin() as connection:
            leftover = self._schema_exists(connection, STAGING_SCHEMA)
            connection.execute(sa.text(f"DROP SCHEMA IF EXISTS {STAGING_SCHEMA} CASCADE"))
            rollback_leftover = self._schema_exists(connection, ROLLBACK_SCHEMA)
            connection.execute(sa.text(f"DROP SCHEMA IF EXISTS {ROLLBACK_SCHEMA} CASCADE"))
        if leftover or rollback_leftover:
            log.warning("dropped a leftover staging schema", extra={"schema": STAGING_SCHEMA})
        return leftover or rollback_leftover

    def publish(self, rows: Mapping[str, list[dict[str, Any]]], lifecycle: LifecycleStep,
                on_step: StepCallback = _noop_step) -> dict[str, int]:
        self.recover()
        try:
            # Statuses as the lifecycle would set them now; the swap re-applies it for real and
            # corrects the few that a reviewer changed in between.
            with self.engine.connect() as connection, connection.begin() as preview:
                _with_statuses(rows, lifecycle(connection, False))
                preview.rollback()
            counts = self._stage(rows, on_step)
            self.before_swap()
            self._swap(lifecycle, on_step)
        except BaseException:
            self._drop_staging()
            raise
        return counts

    def _drop_staging(self) -> None:
        try:
            with self.engine.begin() as connection:
                connection.execute(sa.text(f"DROP SCHEMA IF EXISTS {STAGING_SCHEMA} CASCADE"))
        except Exception:  # the database may be the thing that failed; the next run recovers
            log.exception("could not drop the staging schema; the next run will")

    def _stage(self, rows: Mapping[str, list[dict[str, Any]]], on_step: StepCallback) -> dict[str, int]:
        total = sum(len(rows.get(name, [])) for name in LOAD_ORDER)
        done = 0
        with self.engine.begin() as connection:
            connection.execute(sa.text(f"SET LOCAL application_name = '{APPLICATION_NAME}'"))
            connection.execute(sa.text(f"CREATE SCHEMA {STAGING_SCHEMA}"))
            for name in LOAD_ORDER:
                self._create_staging_table(connection, name)
        on_step("load", done, total)
        counts: dict[str, int] = {}
        with self.engine.begin() as connection:
            connection.execute(sa.text(f"SET LOCAL application_name = '{APPLICATION_NAME}'"))
            cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
            for name in LOAD_ORDER:
                table_rows = rows.get(name, [])
                counts[name] = len(table_rows)
                if table_rows:
                    columns = [c for c in self.tables[name].columns if c.name == "id" or c.name in table_rows[0]]
                    column_list = ", ".join(f'"{c.name}"' for c in columns)
                    cursor.copy_expert(
                        f"COPY {_qualified(STAGING_SCHEMA, name)} ({column_list}) FROM STDIN",
                        CopyBuffer(copy_lines(table_rows, columns)),
                    )
                    connection.execute(sa.text(
                        f"SELECT setval(pg_get_serial_sequence('{STAGING_SCHEMA}.{name}', 'id'), :n)"
                    ), {"n": len(table_rows)})
                done += len(table_rows)
                on_step("load", done, total)
            cursor.close()
        on_step("index", 0, len(LOAD_ORDER))
        with self.engine.begin() as connection:
            self._validate(connection, counts)
            self._copy_constraints_and_indexes(connection)
            for name in LOAD_ORDER:
                connection.execute(sa.text(f"ANALYZE {_qualified(STAGING_SCHEMA, name)}"))
        on_step("index", len(LOAD_ORDER), len(LOAD_ORDER))
        return counts

    def _create_staging_table(self, connection: Connection, name: str) -> None:
        """Columns, defaults and generated columns as published; its own id sequence (the
        published one moves away with the published table)."""
        connection.execute(sa.text(
            f"CREATE TABLE {_qualified(STAGING_SCHEMA, name)} "
            f"(LIKE {_qualified(PUBLIC_SCHEMA, name)} INCLUDING DEFAULTS INCLUDING GENERATED)"
        ))
        sequence = connection.execute(
            sa.text("SELECT pg_get_serial_sequence(:table, 'id')"), {"table": f"{PUBLIC_SCHEMA}.{name}"}
        ).scalar()
        if sequence:
            sequence_name = str(sequence).split(".")[-1].strip('"')
            connection.execute(sa.text(
                f'CREATE SEQUENCE {_qualified(STAGING_SCHEMA, sequence_name)} '
                f'OWNED BY {_qualified(STAGING_SCHEMA, name)}."id"'
            ))
            connection.execute(sa.text(
                f"ALTER TABLE {_qualified(STAGING_SCHEMA, name)} ALTER COLUMN id SET DEFAULT "
                f"nextval('{STAGING_SCHEMA}.{sequence_name}'::regclass)"
            ))

    def _validate(self, connection: Connection, counts: Mapping[str, int]) -> None:
        validate_snapshot(connection, counts, lambda name: _qualified(STAGING_SCHEMA, name))

    def _copy_constraints_and_indexes(self, connection: Connection) -> None:
        """Every constraint and index of the published tables, under the same names, on the
        staging tables: later migrations see the names they expect."""
        # Definitions are read with only public on the path, so references come unqualified and
        # resolve to the staging tables when created with staging first on the path.
        connection.execute(sa.text(f"SET LOCAL search_path TO {PUBLIC_SCHEMA}"))
        constraints = connection.execute(sa.text(
            "SELECT c.conrelid::regclass::text AS tbl, c.conname, c.contype, pg_get_constraintdef(c.oid) AS definition "
            "FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace "
            "WHERE n.nspname = :schema AND t.relname = ANY(:tables) AND c.contype IN ('p', 'u', 'c', 'x', 'f') "
            "ORDER BY c.contype = 'f', c.conname"
        ), {"schema": PUBLIC_SCHEMA, "tables": list(LOAD_ORDER)}).all()
        indexes = connection.execute(sa.text(
            "SELECT t.relname AS tbl, i.relname AS name, pg_get_indexdef(x.indexrelid) AS definition "
            "FROM pg_index x JOIN pg_class t ON t.oid = x.indrelid JOIN pg_class i ON i.oid = x.indexrelid "
            "JOIN pg_namespace n ON n.oid = t.relnamespace "
            "WHERE n.nspname = :schema AND t.relname = ANY(:tables) "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid) ORDER BY i.relname"
        ), {"schema": PUBLIC_SCHEMA, "tables": list(LOAD_ORDER)}).all()
        connection.execute(sa.text(f"SET LOCAL search_path TO {STAGING_SCHEMA}, {PUBLIC_SCHEMA}"))
        for row in constraints:
            table = row.tbl.split(".")[-1].strip('"')
            connection.execute(sa.text(
                f'ALTER TABLE {_qualified(STAGING_SCHEMA, table)} ADD CONSTRAINT "{row.conname}" {row.definition}'
            ))
        for row in indexes:
            statement = re.sub(
                rf'\sON\s+(ONLY\s+)?(("?{PUBLIC_SCHEMA}"?)\.)?"?{re.escape(row.tbl)}"?\s',
                f" ON {_qualified(STAGING_SCHEMA, row.tbl)} ", row.definition, count=1,
            )
            if STAGING_SCHEMA not in statement:
                raise PublicationError(f"cannot re-create index {row.name}: {row.definition}")
            connection.execute(sa.text(statement))
        connection.execute(sa.text(f"SET LOCAL search_path TO {PUBLIC_SCHEMA}"))

    def _swap(self, lifecycle: LifecycleStep, on_step: StepCallback) -> None:
        on_step("swap", 0, 1)
        for attempt in range(1, self.swap_attempts + 1):
            try:
                with self.engine.begin() as connection:
                    # The lifecycle first: it touches only review tables, so the published
                    # tables are locked only for the moves and the commit.
                    status_of = lifecycle(connection, True)
                    self._correct_statuses(connection, status_of)
                    self._lock_published(connection)
                    locked = time.perf_counter()
                    connection.execute(sa.text(f"DROP SCHEMA IF EXISTS {PREVIOUS_SCHEMA} CASCADE"))
                    connection.execute(sa.text(f"CREATE SCHEMA {PREVIOUS_SCHEMA}"))
                    self._move_all(connection, PUBLIC_SCHEMA, PREVIOUS_SCHEMA)
                    self._move_all(connection, STAGING_SCHEMA, PUBLIC_SCHEMA)
                    connection.execute(sa.text(f"DROP SCHEMA {STAGING_SCHEMA}"))
                # From the locks to the commit: the only time readers wait for the publication.
                self.last_lock_hold_s = time.perf_counter() - locked
                log.info("snapshot swapped", extra={"locked_ms": round(self.last_lock_hold_s * 1000, 1)})
                on_step("swap", 1, 1)
                return
            except sa.exc.OperationalError as exc:
                # lock_not_available (55P03) or deadlock_detected (40P01): readers held the
                # tables; everything rolled back, try again.
                code = getattr(exc.orig, "pgcode", None)
                if code not in ("55P03", "40P01") or attempt == self.swap_attempts:
                    raise
                log.warning("swap waited too long for readers; retrying", extra={"attempt": attempt})
                time.sleep(0.2 * attempt)

    def _lock_published(self, connection: Connection) -> None:
        """All published tables at once, without queueing: ``NOWAIT`` attempts never wait while
        holding a lock, so a reader can neither deadlock with the swap nor queue behind it. If
        readers keep the tables busy for ``NOWAIT_WINDOW_S``, a queued attempt follows (bounded by
        ``lock_timeout_s``): new readers then wait behind it for the running ones plus the swap."""
        tables = ", ".join(_qualified(PUBLIC_SCHEMA, name) for name in LOAD_ORDER)
        deadline = time.monotonic() + min(NOWAIT_WINDOW_S, self.lock_timeout_s)
        while time.monotonic() < deadline:
            try:
                with connection.begin_nested():
                    connection.execute(sa.text(f"LOCK TABLE {tables} IN ACCESS EXCLUSIVE MODE NOWAIT"))
                return
            except sa.exc.OperationalError as exc:
                if getattr(exc.orig, "pgcode", None) != "55P03":
                    raise
                time.sleep(0.005)
        connection.execute(sa.text(f"SET LOCAL lock_timeout = '{int(self.lock_timeout_s * 1000)}ms'"))
        connection.execute(sa.text(f"LOCK TABLE {tables} IN ACCESS EXCLUSIVE MODE"))

    def _correct_statuses(self, connection: Connection, status_of: Mapping[str, str]) -> None:
        if not status_of:
            return
        connection.execute(sa.text(
            f"UPDATE {_qualified(STAGING_SCHEMA, 'problems')} AS p SET status = v.status "
            "FROM (SELECT unnest(CAST(:keys AS text[])) AS key, unnest(CAST(:statuses AS text[])) AS status) AS v "
            "WHERE p.problem_key = v.key AND p.status IS DISTINCT FROM v.status"
        ), {"keys": list(status_of), "statuses": list(status_of.values())})

    @staticmethod
    def _move_all(connection: Connection, source: str, target: str) -> None:
        for name in reversed(LOAD_ORDER):
            connection.execute(sa.text(f"ALTER TABLE {_qualified(source, name)} SET SCHEMA {target}"))

    @staticmethod
    def _schema_exists(connection: Connection, schema: str) -> bool:
        return bool(connection.execute(
            sa.text("SELECT 1 FROM pg_namespace WHERE nspname = :s"), {"s": schema}).scalar())

    def _previous_tables(self, connection: Connection) -> set[str]:
        return set(connection.execute(sa.text(
            "SELECT tablename FROM pg_tables WHERE schemaname = :s"), {"s": PREVIOUS_SCHEMA}).scalars())

    def _kept(self, connection: Connection) -> bool:
        """A complete previous snapshot that was itself published (not the empty tables the
        migrations created)."""
        return set(LOAD_ORDER) <= self._previous_tables(connection) and bool(connection.execute(sa.text(
            f"SELECT count(*) FROM {_qualified(PREVIOUS_SCHEMA, 'snapshot_meta')}")).scalar())

    def has_previous(self) -> bool:
        with self.engine.connect() as connection:
            return self._kept(connection)

    def rollback(self) -> str:
        with self.engine.begin() as connection:
            if not self._kept(connection):
                raise NothingToRollBackError(
                    "nothing to roll back: no previous snapshot is kept (a publication keeps the one it "
                    "replaced; none has happened yet on this database, or it was already rolled back)")
            for name in LOAD_ORDER:
                if _columns(connection, PREVIOUS_SCHEMA, name) != _columns(connection, PUBLIC_SCHEMA, name):
                    raise NothingToRollBackError(
                        f"cannot roll back: the previous {name} predates a schema migration")
            run_id = connection.execute(sa.text(
                f"SELECT run_id FROM {_qualified(PREVIOUS_SCHEMA, 'snapshot_meta')} ORDER BY id DESC LIMIT 1"
            )).scalar()
            self._lock_published(connection)
            connection.execute(sa.text(f"ALTER SCHEMA {PREVIOUS_SCHEMA} RENAME TO {ROLLBACK_SCHEMA}"))
            connection.execute(sa.text(f"CREATE SCHEMA {PREVIOUS_SCHEMA}"))
            self._move_all(connection, PUBLIC_SCHEMA, PREVIOUS_SCHEMA)
            self._move_all(connection, ROLLBACK_SCHEMA, PUBLIC_SCHEMA)
            connection.execute(sa.text(f"DROP SCHEMA {ROLLBACK_SCHEMA}"))
        return str(run_id or "unknown")


def _columns(connection: Connection, schema: str, table: str) -> list[tuple[str, str]]:
    return [tuple(row) for row in connection.execute(sa.text(  # type: ignore[misc]
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = :s AND table_name = :t ORDER BY ordinal_position"), {"s": schema, "t": table})]


# --- SQLite -----------------------------------------------------------------------------------

BATCH = 5000


def _batches(rows: list[dict[str, Any]], size: int = BATCH) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(rows), size):
        yield rows[start:start + size]


class SqlitePublisher(SnapshotPublisher):
    def recover(self) -> bool:
        return False  # a killed write transaction is rolled back by SQLite itself

    def publish(self, rows: Mapping[str, list[dict[str, Any]]], lifecycle: LifecycleStep,
                on_step: StepCallback = _noop_step) -> dict[str, int]:
        total = sum(len(rows.get(name, [])) for name in LOAD_ORDER)
        on_step("load", 0, total)
        counts: dict[str, int] = {}
        self.before_swap()
        with self.engine.begin() as connection:
            for name in LOAD_ORDER:
                keep = f"{name}{SQLITE_PREVIOUS_SUFFIX}"
                connection.execute(sa.text(f'DROP TABLE IF EXISTS "{keep}"'))
                connection.execute(sa.text(f'CREATE TABLE "{keep}" AS SELECT * FROM "{name}"'))
            _with_statuses(rows, lifecycle(connection, True))
            for name in reversed(LOAD_ORDER):
                connection.execute(sa.text(f'DELETE FROM "{name}"'))
            for name in LOAD_ORDER:
                table_rows = rows.get(name, [])
                for batch in _batches(table_rows):
                    connection.execute(sa.insert(self.tables[name]), batch)
                counts[name] = len(table_rows)
            self._validate(connection, counts)
        on_step("load", total, total)
        return counts

    @staticmethod
    def _validate(connection: Connection, counts: Mapping[str, int]) -> None:
        validate_snapshot(connection, counts, lambda name: f'"{name}"')

    def has_previous(self) -> bool:
        with self.engine.connect() as connection:
            return self._has_previous(connection)

    @staticmethod
    def _has_previous(connection: Connection) -> bool:
        names = set(sa.inspect(connection).get_table_names())
        if not all(f"{name}{SQLITE_PREVIOUS_SUFFIX}" in names for name in LOAD_ORDER):
            return False
        kept_meta = f'"snapshot_meta{SQLITE_PREVIOUS_SUFFIX}"'
        return bool(connection.execute(sa.text(f"SELECT count(*) FROM {kept_meta}")).scalar())

    @staticmethod
    def _sqlite_columns(connection: Connection, table: str) -> list[str]:
        return [row[1] for row in connection.execute(sa.text(f'PRAGMA table_info("{table}")'))]

    def rollback(self) -> str:
        with self.engine.begin() as connection:
            if not self._has_previous(connection):
                raise NothingToRollBackError(
                    "nothing to roll back: no previous snapshot is kept (a publication keeps the one it "
                    "replaced; none has happened yet on this database, or it was already rolled back)")
            for name in LOAD_ORDER:
                if self._sqlite_columns(connection, f"{name}{SQLITE_PREVIOUS_SUFFIX}") != self._sqlite_columns(
                        connection, name):
                    raise NothingToRollBackError(f"cannot roll back: the previous {name} predates a schema migration")
            run_id = connection.execute(sa.text(
                f'SELECT run_id FROM "snapshot_meta{SQLITE_PREVIOUS_SUFFIX}" ORDER BY id DESC LIMIT 1')).scalar()
            for name in LOAD_ORDER:
                connection.execute(sa.text(f'CREATE TEMP TABLE "{name}__swap" AS SELECT * FROM "{name}"'))
            for name in reversed(LOAD_ORDER):
                connection.execute(sa.text(f'DELETE FROM "{name}"'))
            for name in LOAD_ORDER:
                keep = f"{name}{SQLITE_PREVIOUS_SUFFIX}"
                connection.execute(sa.text(f'INSERT INTO "{name}" SELECT * FROM "{keep}"'))
                connection.execute(sa.text(f'DELETE FROM "{keep}"'))
                connection.execute(sa.text(f'INSERT INTO "{keep}" SELECT * FROM temp."{name}__swap"'))
                connection.execute(sa.text(f'DROP TABLE temp."{name}__swap"'))
        return str(run_id or "unknown")
