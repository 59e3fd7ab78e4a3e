"""The one module that knows PostGIS and SQLite apart.

PostGIS keeps a generated ``geom`` point column with a GiST index on every spatial snapshot
table; embedded SQLite has no geometry column and answers spatial questions from an index on
``(lat, lon)``. Migrations, publication and queries ask this module instead of branching.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
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
    bind: Engine | Connection, table: sa.Table, bbox: tuple[float, float, float, float] | tuple[Any, Any, Any, Any]
) -> sa.ColumnElement[bool]:
    """A WHERE clause selecting rows of ``table`` inside ``bbox`` (minLon, minLat, maxLon, maxLat;
    numbers or bound parameters)."""
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
    bind: Engine | Connection, table: sa.FromClause, cell_degrees: float | sa.ColumnElement[float]
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


def grid_cell(lon: float, lat: float, cell_degrees: float) -> tuple[int, int]:
    """What :func:`grid_cell_columns` computes for one point, in Python: the same IEEE double
    operations (add, divide, floor), hence the same cell for every stored coordinate."""
    return math.floor((lon + 180.0) / cell_degrees), math.floor((lat + 90.0) / cell_degrees)


# The coordinates the overview sums, as integers: sums of integers are exact and independent of
# the order the database adds rows in, so sums of parts add up to the sum of the whole, bit for bit.
# A coordinate c (plus 180 or 90: non-negative, below 2**9) becomes t = c * 2**30 (exact: a power of
# two) split into its integer part and the next 20 bits of its fraction: hi * 2**-30 + lo * 2**-50
# degrees, which is c itself whenever c >= 4 (its double then has no finer bits) and c to 2**-50
# degrees otherwise. hi < 2**39, so 2**24 stops sum without overflowing 64 bits.
FIXED_POINT_HIGH = 2.0**30
FIXED_POINT_LOW = 2.0**20
FIXED_POINT_OFFSETS = (180.0, 90.0)  # added to lon and lat


def fixed_point_columns(bind: Engine | Connection, table: sa.FromClause) -> tuple[sa.ColumnElement[int], ...]:
    """(lon hi, lon lo, lat hi, lat lo) of each row's point (see FIXED_POINT_HIGH). SQLite's integer
    cast truncates, which for these non-negative values is the floor."""
    columns: list[sa.ColumnElement[int]] = []
    for column, offset in ((table.c.lon, FIXED_POINT_OFFSETS[0]), (table.c.lat, FIXED_POINT_OFFSETS[1])):
        scaled = (column + offset) * FIXED_POINT_HIGH
        if is_postgres(bind):
            floor = sa.func.floor(scaled)
            columns += [sa.cast(floor, sa.BigInteger),
                        sa.cast(sa.func.floor((scaled - floor) * FIXED_POINT_LOW), sa.BigInteger)]
        else:
            whole = sa.cast(scaled, sa.Integer)
            columns += [whole, sa.cast((scaled - whole) * FIXED_POINT_LOW, sa.Integer)]
    return tuple(columns)


def fixed_point(lon: float, lat: float) -> tuple[int, int, int, int]:
    """What :func:`fixed_point_columns` computes for one point, in Python (same IEEE operations;
    ``scaled - whole`` is exact)."""
    x = (lon + FIXED_POINT_OFFSETS[0]) * FIXED_POINT_HIGH
    y = (lat + FIXED_POINT_OFFSETS[1]) * FIXED_POINT_HIGH
    x_whole, y_whole = math.floor(x), math.floor(y)
    return x_whole, math.floor((x - x_whole) * FIXED_POINT_LOW), y_whole, math.floor((y - y_whole) * FIXED_POINT_LOW)


def bbox_strips_clause(
    bind: Engine | Connection, table: sa.Table, bbox: tuple[Any, Any, Any, Any],
    strips: Sequence[tuple[Any, Any, Any, Any]],
) -> sa.ColumnElement[bool]:
    """The rows :func:`bbox_clause` selects for ``bbox`` (exactly those) that also lie in one of
    ``strips`` (bounds are numbers or bound parameters), in a form whose index scans cover about
    the strips only. The strips must contain every row of interest even under PostGIS's ``&&``,
    which compares single-precision boxes (rounded outward)."""
    if is_postgres(bind):
        return sa.and_(bbox_clause(bind, table, bbox), sa.or_(*(bbox_clause(bind, table, strip) for strip in strips)))
    # One scan of the (lat, lon) index over the strips' latitudes, testing each row's longitude (and
    # latitude) against the strips. The bbox's and strips' own comparisons are made on ``x + 0``
    # (the same values, but no index), so that SQLite cannot scan the bbox's latitudes instead.
    min_lon, min_lat, max_lon, max_lat = bbox
    lat, lon = table.c.lat + 0, table.c.lon + 0
    south = strips[0][1] if len(strips) == 1 else sa.func.min(*(strip[1] for strip in strips))
    north = strips[0][3] if len(strips) == 1 else sa.func.max(*(strip[3] for strip in strips))
    return sa.and_(
        table.c.lat.between(south, north),
        sa.or_(*(sa.and_(lon.between(strip[0], strip[2]), lat.between(strip[1], strip[3])) for strip in strips)),
        lat.between(min_lat, max_lat), lon.between(min_lon, max_lon),
    )


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
                        "stop_routes", "stop_modes", "snapshot_meta", "overview_cells"))
    session.execute(sa.text(f"LOCK TABLE {tables} IN ACCESS SHARE MODE"))
