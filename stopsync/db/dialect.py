"""The one module that knows PostGIS and SQLite apart.

PostGIS keeps a generated ``geom`` point column with a GiST index on every spatial snapshot
table; embedded SQLite has no geometry column and answers spatial questions from an index on
``(lat, lon)``. Migrations, publication and queries ask this module instead of branching.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from geoalchemy2 import Geometry
from sqlalchemy.engine import Connection, Engine

if TYPE_CHECKING:
    from .locks import DatabaseRunLock
    from .publication import SnapshotPublisher

SRID = 4326
# Tables that carry a point: the ones bbox queries read.
SPATIAL_TABLES = ("atlas_platforms", "osm_elements", "osm_stop_units")
# Tables PostGIS creates itself; migrations must neither drop nor autogenerate them.
POSTGIS_OWN_TABLES = frozenset(
    {"spatial_ref_sys", "geography_columns", "geometry_columns", "raster_columns",
     "raster_overviews", "topology", "layer"}
)
POSTGIS_OWN_SCHEMAS = frozenset({"topology", "tiger", "tiger_data"})


def is_postgres(bind: Engine | Connection) -> bool:
    return bind.dialect.name == "postgresql"


def point_geometry_column() -> sa.Column[Any]:
    """The generated point column PostGIS tables get (computed from lon/lat)."""
    return sa.Column(
        "geom",
        Geometry("POINT", srid=SRID, spatial_index=False),
        sa.Computed(f"ST_SetSRID(ST_MakePoint(lon, lat), {SRID})", persisted=True),
    )


def add_spatial_support(op: Any, table: str) -> None:
    """Migration step: a GiST-indexed geometry on PostGIS, a lat/lon index elsewhere."""
    bind = op.get_bind()
    if is_postgres(bind):
        op.add_column(table, point_geometry_column())
        op.create_index(f"ix_{table}_geom", table, ["geom"], postgresql_using="gist")
    else:
        op.create_index(f"ix_{table}_lat_lon", table, ["lat", "lon"])


def drop_spatial_support(op: Any, table: str) -> None:
    bind = op.get_bind()
    if is_postgres(bind):
        op.drop_index(f"ix_{table}_geom", table_name=table)
        op.drop_column(table, "geom")
    else:
        op.drop_index(f"ix_{table}_lat_lon", table_name=table)


def ensure_extensions(op: Any) -> None:
    """Migration step: PostGIS must exist before any geometry column."""
    if is_postgres(op.get_bind()):
        op.execute("CREATE EXTENSION IF NOT EXISTS postgis")


def bbox_clause(
    bind: Engine | Connection, table: sa.Table, bbox: tuple[float, float, float, float]
) -> sa.ColumnElement[bool]:
    """A WHERE clause selecting rows of ``table`` inside ``bbox`` (minLon, minLat, maxLon, maxLat)."""
    min_lon, min_lat, max_lon, max_lat = bbox
    if is_postgres(bind):
        envelope = sa.func.ST_MakeEnvelope(min_lon, min_lat, max_lon, max_lat, SRID)
        return sa.literal_column(f"{table.name}.geom").op("&&")(envelope)
    return sa.and_(
        table.c.lat.between(min_lat, max_lat),
        table.c.lon.between(min_lon, max_lon),
    )


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Alembic autogenerate filter: ignore PostGIS's own tables and the generated geom columns."""
    if type_ == "table":
        from .publication import SQLITE_PREVIOUS_SUFFIX

        schema = getattr(obj, "schema", None)
        # SQLite keeps the previous snapshot for rollback beside the published tables.
        kept = bool(name and name.endswith(SQLITE_PREVIOUS_SUFFIX))
        return name not in POSTGIS_OWN_TABLES and schema not in POSTGIS_OWN_SCHEMAS and not kept
    if type_ == "column" and name == "geom":
        return False
    # The spatial indexes exist per backend (see add_spatial_support), not in the models.
    return not (type_ == "index" and name and name.endswith(("_geom", "_lat_lon")))


def configure_engine(engine: Engine) -> None:
    """Per-connection settings: SQLite gets WAL (readers keep reading during publication) and
    enforced foreign keys."""
    if engine.dialect.name != "sqlite":
        return

    @sa.event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.close()


def grid_cell_columns(
    bind: Engine | Connection, table: sa.FromClause, cell_degrees: float
) -> tuple[sa.ColumnElement[int], sa.ColumnElement[int]]:
    """Integer grid coordinates (x, y) of each row's point on a grid of ``cell_degrees``.

    Cells are counted from (-180, -90) so that both coordinates are non-negative. PostgreSQL
    needs ``floor`` (its integer cast rounds); SQLite's integer cast truncates, which for
    non-negative values is the floor, and SQLite may lack the math functions.
    """
    x = (table.c.lon + 180.0) / cell_degrees
    y = (table.c.lat + 90.0) / cell_degrees
    if is_postgres(bind):
        return sa.cast(sa.func.floor(x), sa.Integer), sa.cast(sa.func.floor(y), sa.Integer)
    return sa.cast(x, sa.Integer), sa.cast(y, sa.Integer)



def snapshot_publisher(
    engine: Engine, tables: dict[str, sa.Table], *, lock_timeout_s: float = 10.0
) -> SnapshotPublisher:
    """The publication strategy of the backend (see :mod:`stopsync.db.publication`)."""
    from .publication import PostgresPublisher, SqlitePublisher

    cls = PostgresPublisher if is_postgres(engine) else SqlitePublisher
    return cls(engine, tables, lock_timeout_s=lock_timeout_s)


def database_run_lock(engine: Engine, instance_path: str | Path) -> DatabaseRunLock:
    """The run lock when there is no Redis: a PostgreSQL advisory lock (one per database,
    across hosts) or a file lock in the instance folder (SQLite lives on one host)."""
    from .locks import AdvisoryRunLock, FileRunLock

    if is_postgres(engine):
        return AdvisoryRunLock(engine.url)
    return FileRunLock(Path(instance_path) / "pipeline-run.lock")


def hold_snapshot_for_reading(session: Any) -> None:
    """Make every statement of this request read one snapshot. On PostGIS, publication swaps
    whole tables; a request that reads several tables (stops with links, stop details) takes
    ACCESS SHARE locks on all snapshot tables first, so a swap waits for it (tens of ms) instead
    of slipping between its statements."""
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        # The sqlite3 module runs each SELECT on its own; an explicit read transaction makes
        # the request's statements share one WAL snapshot (rolled back at teardown). Only
        # read-only requests may do this: a write on a stale snapshot would fail.
        session.execute(sa.text("BEGIN"))
        return
    if dialect != "postgresql":
        return
    tables = ", ".join(("atlas_platforms", "osm_elements", "osm_stop_units", "matches", "problems",
                        "stop_routes", "stop_modes", "snapshot_meta"))
    session.execute(sa.text(f"LOCK TABLE {tables} IN ACCESS SHARE MODE"))
