"""Reader for the ATLAS traffic-point export (a ZIP with one CSV, or the CSV itself).

The file is streamed row by row with the ``csv`` module; only the kept platforms are held in
memory. Every filter step records how many rows survived, so users can see the funnel.
"""

from __future__ import annotations

import codecs
import csv
import math
import re
import zipfile
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..plugins.base import SourceResult
from .records import AtlasPlatform
from .region import Region

REQUIRED_COLUMNS = (
    "sloid", "number", "uicCountryCode", "designation", "designationOfficial",
    "trafficPointElementType", "wgs84East", "wgs84North", "validTo",
)
BAD_ROWS_KEPT = 50
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


@contextmanager
def _open_binary(path: Path) -> Iterator[tuple[Iterable[bytes], str]]:
    """The CSV as bytes and its display name, whether ``path`` is the CSV or a ZIP holding
    exactly one CSV (recognised by its magic bytes, not its name)."""
    try:
        with open(path, "rb") as raw:
            is_zip = raw.read(4) in (b"PK\x03\x04", b"PK\x05\x06")
            if not is_zip:
                raw.seek(0)
                yield raw, str(path)
                return
    except OSError as exc:
        raise InputError(f"cannot read ATLAS file: {exc}", path=str(path)) from exc
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise InputError(f"not a readable ZIP archive: {exc}", path=str(path)) from exc
    with archive:
        csvs = [
            info for info in archive.infolist()
            if not info.is_dir() and info.filename.lower().endswith(".csv")
            and not info.filename.startswith("__MACOSX/")
        ]
        if len(csvs) != 1:
            names = ", ".join(info.filename for info in csvs) or "none"
            raise InputError(
                f"the ZIP must contain exactly one CSV file, found {len(csvs)} ({names})",
                path=str(path),
            )
        with archive.open(csvs[0]) as member:
            yield member, f"{path}!{csvs[0].filename}"


def _decoded_lines(stream: Iterable[bytes], where: str) -> Iterator[str]:
    """Decode line by line so that an encoding error names its exact line."""
    for number, raw in enumerate(stream, start=1):
        if b"\x00" in raw:
            raise InputError("the file is not text (it contains NUL bytes)", path=where,
                             line=number)
        if number == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8):]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(f"the file is not UTF-8 text ({exc.reason} at byte {exc.start})",
                             path=where, line=number) from exc
        yield text


def _today(today: date | None) -> str:
    return (today or date.today()).isoformat()


class _BadRows:
    """Collects rejected rows; keeps the first few in full, counts all of them."""

    def __init__(self) -> None:
        self.count = 0
        self.first: list[dict[str, Any]] = []

    def add(self, line: int, column: str, message: str) -> None:
        self.count += 1
        if len(self.first) < BAD_ROWS_KEPT:
            self.first.append({"line": line, "column": column, "message": message})


def _coordinate(value: str, low: float, high: float) -> float | None:
    try:
        number = float(value)
    except ValueError:
        return None
    if not math.isfinite(number) or not low <= number <= high:
        return None
    return number


def _parse_row(
    values: list[str], index: dict[str, int], header: list[str], line: int, bad: _BadRows
) -> AtlasPlatform | None:
    if len(values) != len(header):
        missing = header[len(values)] if len(values) < len(header) else ""
        bad.add(line, missing, f"row has {len(values)} columns, the header has {len(header)}")
        return None

    def get(column: str) -> str:
        position = index.get(column)
        return values[position].strip() if position is not None else ""

    sloid = get("sloid")
    if not sloid:
        bad.add(line, "sloid", "missing sloid")
        return None
    lon = _coordinate(get("wgs84East"), -180.0, 180.0)
    if lon is None:
        bad.add(line, "wgs84East", f"not a longitude: {get('wgs84East')!r}")
        return None
    lat = _coordinate(get("wgs84North"), -90.0, 90.0)
    if lat is None:
        bad.add(line, "wgs84North", f"not a latitude: {get('wgs84North')!r}")
        return None
    valid_to = get("validTo")
    if valid_to and not _ISO_DATE.match(valid_to):
        bad.add(line, "validTo", f"not an ISO date: {valid_to!r}")
        return None
    return AtlasPlatform(
        sloid=sloid,
        number=get("number"),
        designation=get("designation"),
        name=get("designationOfficial"),
        lat=lat,
        lon=lon,
        element_type=get("trafficPointElementType"),
        country_code=get("uicCountryCode"),
        valid_from=get("validFrom")[:10],
        valid_to=valid_to[:10],
        parent_sloid=get("parentSloidServicePoint"),
        operator=get("servicePointBusinessOrganisationAbbreviationDe"),
        operator_name=get("servicePointBusinessOrganisationDescriptionDe"),
        line=line,
    )


def _read_rows(path: Path, bad: _BadRows) -> tuple[list[AtlasPlatform], int]:
    """All well-formed rows and the number of data rows seen (good and bad)."""
    platforms: list[AtlasPlatform] = []
    data_rows = 0
    with _open_binary(path) as (stream, where):
        reader = csv.reader(_decoded_lines(stream, where), delimiter=";")
        try:
            header = [name.strip() for name in next(reader, [])]
            if not any(header):
                raise InputError("the file is empty or has no header line", path=where, line=1)
            missing = [column for column in REQUIRED_COLUMNS if column not in header]
            if missing:
                raise InputError(
                    f"required column {missing[0]!r} is missing from the header"
                    + (f" (also missing: {', '.join(missing[1:])})" if missing[1:] else ""),
                    path=where, line=1, column=missing[0],
                )
            index = {name: position for position, name in enumerate(header)}
            previous_end = reader.line_num
            for values in reader:
                line, previous_end = previous_end + 1, reader.line_num
                if not values:
                    continue  # a blank line, e.g. after the last row
                data_rows += 1
                platform = _parse_row(values, index, header, line, bad)
                if platform is not None:
                    platforms.append(platform)
        except csv.Error as exc:
            raise InputError(f"the file is not a readable CSV: {exc}", path=where,
                             line=reader.line_num) from exc
        except (zipfile.BadZipFile, EOFError) as exc:
            raise InputError(f"the ZIP member is damaged: {exc}", path=where,
                             line=reader.line_num) from exc
    return platforms, data_rows


def _duplicate_groups(platforms: list[AtlasPlatform]) -> int:
    counts = Counter((p.number, p.designation) for p in platforms)
    return sum(1 for n in counts.values() if n > 1)


def read_atlas(
    path: Path,
    *,
    region: Region | None = None,
    today: date | None = None,
    max_bad_share: float = 0.01,
) -> SourceResult:
    """Parse and filter an ATLAS export; records are the kept boarding platforms."""
    path = Path(path)
    bad = _BadRows()
    platforms, data_rows = _read_rows(path, bad)
    if bad.count and bad.count > max_bad_share * data_rows:
        first = bad.first[0]
        raise InputError(
            f"{bad.count} of {data_rows} rows are malformed (more than {max_bad_share:.1%}); "
            f"first bad row: {first['message']}",
            path=str(path), line=first["line"], column=first["column"] or None,
        )

    funnel: list[dict[str, Any]] = [{"step": "rows", "count": len(platforms), "skipped": False}]

    def step(name: str, kept: list[AtlasPlatform], skipped: bool = False) -> list[AtlasPlatform]:
        funnel.append({"step": name, "count": len(kept), "skipped": skipped})
        return kept

    kept = step("country_code_85", [p for p in platforms if p.country_code == "85"])
    if region is None:
        kept = step("inside_region", kept, skipped=True)
    else:
        inside = region.contains_many([p.lat for p in kept], [p.lon for p in kept])
        kept = step("inside_region", [p for p, ok in zip(kept, inside, strict=True) if ok])
    cutoff = _today(today)
    # ISO dates compare correctly as strings, and 9999-12-31 needs no special datetime.
    kept = step("valid_today", [p for p in kept if not p.valid_to or p.valid_to >= cutoff])
    kept = step("boarding_platform",
                [p for p in kept if p.element_type == "BOARDING_PLATFORM"])

    stats: dict[str, Any] = {
        "rows": len(platforms),
        "bad_rows": bad.first,
        "bad_row_count": bad.count,
        "funnel": funnel,
        "duplicate_groups": _duplicate_groups(kept),
    }
    return SourceResult(records=kept, stats=stats)
