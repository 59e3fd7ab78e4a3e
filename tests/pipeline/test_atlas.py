"""ATLAS reader: the real sample, its funnel, and every kind of broken export."""

from __future__ import annotations

import codecs
import zipfile
from datetime import date
from pathlib import Path

import pytest

from stopsync.errors import InputError
from stopsync.pipeline.atlas import read_atlas
from stopsync.pipeline.region import load_region, region_from_bbox

FUNNEL_STEPS = ["rows", "country_code_85", "inside_region", "valid_today", "boarding_platform"]


def sample_lines(atlas_sample: Path) -> tuple[str, list[str]]:
    header, *rows = atlas_sample.read_text(encoding="utf-8").splitlines()
    return header, rows


def set_field(header: str, row: str, column: str, value: str) -> str:
    names = header.split(";")
    values = row.split(";")
    values[names.index(column)] = value
    return ";".join(values)


def write_csv(path: Path, header: str, rows: list[str], *, bom: bool = False) -> Path:
    text = "\n".join([header, *rows]) + "\n"
    path.write_bytes((codecs.BOM_UTF8 if bom else b"") + text.encode("utf-8"))
    return path


def counts(stats: dict) -> list[int]:
    return [step["count"] for step in stats["funnel"]]


def test_sample_funnel_with_swiss_border(atlas_sample: Path, swiss_border: Path) -> None:
    # The sample: 40 rows, all uicCountryCode 85, all BOARDING_PLATFORM, all validTo
    # 9999-12-31, and every point lies in Switzerland (checked one by one on a map).
    result = read_atlas(atlas_sample, region=load_region(swiss_border), today=date(2026, 11, 26))
    assert [step["step"] for step in result.stats["funnel"]] == FUNNEL_STEPS
    assert counts(result.stats) == [40, 40, 40, 40, 40]
    assert not any(step["skipped"] for step in result.stats["funnel"])
    assert result.stats["rows"] == 40
    assert result.stats["bad_row_count"] == 0
    assert result.stats["bad_rows"] == []
    assert result.stats["duplicate_groups"] == 0
    assert len(result.records) == 40


def test_sample_without_region_marks_step_skipped(atlas_sample: Path) -> None:
    result = read_atlas(atlas_sample)
    region_step = result.stats["funnel"][2]
    assert region_step == {"step": "inside_region", "count": 40, "skipped": True}


def test_bbox_keeps_only_the_western_stops(atlas_sample: Path) -> None:
    # wgs84East < 7.0 in the sample: Attalens, Estavayer-le-Lac, Epalinges, Essertines,
    # Cartigny, Vessy, Bernex, Chêne-Bougeries and Neuchâtel (Bex is at 7.0168).
    result = read_atlas(atlas_sample, region=region_from_bbox(5.9, 45.8, 7.0, 47.9))
    assert counts(result.stats) == [40, 40, 9, 9, 9]
    assert {p.number for p in result.records} == {
        "8504957", "8577632", "8579239", "8579691", "8587072", "8593194", "8595014",
        "8592703", "8593590",
    }


def test_record_fields_of_glarus_stampf(atlas_sample: Path) -> None:
    records = {p.sloid: p for p in read_atlas(atlas_sample).records}
    stampf = records["ch:1:sloid:80266:0:16213"]
    assert stampf.number == "8580266"
    assert stampf.name == "Glarus, Stampf"
    assert stampf.designation == ""
    assert stampf.lat == pytest.approx(47.04155345219)
    assert stampf.lon == pytest.approx(9.06870540386)
    assert stampf.valid_to == "9999-12-31"
    assert stampf.operator == "PAG"
    assert stampf.parent_sloid == "ch:1:sloid:80266"
    assert stampf.line == 21
    assert records["ch:1:sloid:79239:0:510"].designation == "D"


def test_bom_and_no_bom_read_the_same(atlas_sample: Path, tmp_path: Path) -> None:
    header, rows = sample_lines(atlas_sample)
    plain = read_atlas(write_csv(tmp_path / "plain.csv", header, rows))
    with_bom = read_atlas(write_csv(tmp_path / "bom.csv", header, rows, bom=True))
    assert [p.sloid for p in with_bom.records] == [p.sloid for p in plain.records]
    assert with_bom.records[0].sloid == "ch:1:sloid:1405:2:2"
    assert with_bom.stats == plain.stats


def test_zip_with_one_csv(atlas_sample: Path, tmp_path: Path) -> None:
    archive = tmp_path / "export.bin"  # recognised by content, not by name
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(atlas_sample, "actual_date-swiss-only-traffic_point.csv")
    result = read_atlas(archive)
    assert counts(result.stats) == [40, 40, 40, 40, 40]
    assert result.records[0].sloid == "ch:1:sloid:1405:2:2"


def test_zip_with_two_csvs_is_refused(atlas_sample: Path, tmp_path: Path) -> None:
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(atlas_sample, "a.csv")
        zf.write(atlas_sample, "b.csv")
    with pytest.raises(InputError, match=r"exactly one CSV file, found 2 \(a.csv, b.csv\)"):
        read_atlas(archive)


def test_zip_without_csv_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("readme.txt", "nothing here")
    with pytest.raises(InputError, match="found 0"):
        read_atlas(archive)


def test_empty_file_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="empty or has no header") as info:
        read_atlas(empty)
    assert info.value.details["line"] == 1
    assert str(empty) in info.value.message


def test_missing_required_column_is_named(atlas_sample: Path, tmp_path: Path) -> None:
    header, rows = sample_lines(atlas_sample)
    drop = header.split(";").index("wgs84North")

    def without(line: str) -> str:
        parts = line.split(";")
        del parts[drop]
        return ";".join(parts)

    path = write_csv(tmp_path / "no_north.csv", without(header), [without(r) for r in rows])
    with pytest.raises(InputError, match="required column 'wgs84North' is missing") as info:
        read_atlas(path)
    assert info.value.details == {"path": str(path), "line": 1, "column": "wgs84North"}


def test_other_csv_files_are_refused_by_their_header(real_data_dir: Path) -> None:
    # The 2016 DiDok list is a real CSV, but comma separated and without ATLAS columns.
    with pytest.raises(InputError, match="required column 'sloid'"):
        read_atlas(real_data_dir / "didok_service_points_2016.csv")


def test_truncated_last_line_is_a_bad_row(atlas_sample: Path, tmp_path: Path) -> None:
    data = atlas_sample.read_bytes()
    # Cut the file in the middle of the last row, as an interrupted download does.
    truncated = data[: data.rstrip(b"\n").rfind(b"\n") + 120]
    path = tmp_path / "truncated.csv"
    path.write_bytes(truncated)
    result = read_atlas(path, max_bad_share=0.05)
    assert result.stats["bad_row_count"] == 1
    bad = result.stats["bad_rows"][0]
    assert bad["line"] == 41
    assert "columns" in bad["message"]
    assert result.stats["rows"] == 39
    with pytest.raises(InputError, match="1 of 40 rows are malformed") as info:
        read_atlas(path)  # the default allows 1 %, i.e. none of 40 rows
    assert info.value.details["line"] == 41


def test_non_numeric_coordinate_is_skipped(atlas_sample: Path, tmp_path: Path) -> None:
    header, rows = sample_lines(atlas_sample)
    rows[4] = set_field(header, rows[4], "wgs84East", "8,96404568427")  # decimal comma
    rows[9] = set_field(header, rows[9], "wgs84North", "")
    path = write_csv(tmp_path / "coords.csv", header, rows)
    result = read_atlas(path, max_bad_share=0.1)
    assert result.stats["bad_row_count"] == 2
    assert [(b["line"], b["column"]) for b in result.stats["bad_rows"]] == [
        (6, "wgs84East"), (11, "wgs84North"),
    ]
    assert result.stats["rows"] == 38
    sloids = {p.sloid for p in result.records}
    assert "ch:1:sloid:5650::01" not in sloids  # Bissone, row 5
    assert "ch:1:sloid:72838:0:443504" not in sloids  # Bramboden, row 10


def test_missing_sloid_is_a_bad_row(atlas_sample: Path, tmp_path: Path) -> None:
    header, rows = sample_lines(atlas_sample)
    rows[0] = set_field(header, rows[0], "sloid", "")
    result = read_atlas(write_csv(tmp_path / "nosloid.csv", header, rows), max_bad_share=0.05)
    assert result.stats["bad_rows"] == [{"line": 2, "column": "sloid", "message": "missing sloid"}]


def test_too_many_bad_rows_are_fatal(atlas_sample: Path, tmp_path: Path) -> None:
    header, rows = sample_lines(atlas_sample)
    for i in (2, 3, 7):
        rows[i] = set_field(header, rows[i], "wgs84North", "north")
    path = write_csv(tmp_path / "bad.csv", header, rows)
    with pytest.raises(InputError, match="3 of 40 rows are malformed") as info:
        read_atlas(path, max_bad_share=0.05)
    assert info.value.details["line"] == 4
    assert info.value.details["column"] == "wgs84North"
    assert read_atlas(path, max_bad_share=0.1).stats["bad_row_count"] == 3


def test_validity_open_ended_expired_and_today(atlas_sample: Path, tmp_path: Path) -> None:
    header, rows = sample_lines(atlas_sample)
    rows[0] = set_field(header, rows[0], "validTo", "2020-01-01")  # expired
    rows[1] = set_field(header, rows[1], "validTo", "2026-11-26")  # ends today: still valid
    rows[2] = set_field(header, rows[2], "validTo", "")  # no end: open-ended
    rows[3] = set_field(header, rows[3], "validTo", "2026-11-25")  # ended yesterday
    path = write_csv(tmp_path / "validity.csv", header, rows)
    result = read_atlas(path, today=date(2026, 11, 26))
    assert counts(result.stats) == [40, 40, 40, 38, 38]
    kept = {p.sloid for p in result.records}
    assert "ch:1:sloid:1405:2:2" not in kept
    assert "ch:1:sloid:4957:0:1" not in kept
    assert {"ch:1:sloid:2274:0:203356", "ch:1:sloid:2772:0:73424"} <= kept
    # Every other row has 9999-12-31, far beyond any "today".
    far = read_atlas(path, today=date(9999, 12, 31))
    assert counts(far.stats)[3] == 37


def test_country_and_element_type_filters(atlas_sample: Path, tmp_path: Path) -> None:
    header, rows = sample_lines(atlas_sample)
    rows[5] = set_field(header, rows[5], "uicCountryCode", "80")
    rows[6] = set_field(header, rows[6], "trafficPointElementType", "BOARDING_AREA")
    result = read_atlas(write_csv(tmp_path / "types.csv", header, rows))
    assert counts(result.stats) == [40, 39, 39, 39, 38]


def test_duplicate_number_and_designation_groups(atlas_sample: Path, tmp_path: Path) -> None:
    header, rows = sample_lines(atlas_sample)
    copy = set_field(header, rows[19], "sloid", "ch:1:sloid:80266:0:99999")
    result = read_atlas(write_csv(tmp_path / "dup.csv", header, [*rows, copy]))
    assert result.stats["duplicate_groups"] == 1
    assert len(result.records) == 41


def test_binary_file_is_refused(atlas_sample: Path, tmp_path: Path) -> None:
    path = tmp_path / "image.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(InputError, match="not UTF-8 text") as info:
        read_atlas(path)
    assert info.value.details["line"] == 1
    nul = tmp_path / "nul.csv"
    header, rows = sample_lines(atlas_sample)
    nul.write_bytes("\n".join([header, rows[0]]).encode() + b"\nab\x00cd\n")
    with pytest.raises(InputError, match=r"not text \(it contains NUL bytes") as info:
        read_atlas(nul)
    assert info.value.details["line"] == 3


def test_latin1_file_names_the_first_bad_line(atlas_sample: Path, tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes(atlas_sample.read_text(encoding="utf-8").encode("latin-1"))
    with pytest.raises(InputError, match="not UTF-8") as info:
        read_atlas(path)
    # The first non-ASCII text is on line 2 (Vernayaz, operator "Schweizerische Bundesbahnen
    # SBB" in French: "Chemins de fer fédéraux suisses CFF").
    assert info.value.details["line"] == 2
