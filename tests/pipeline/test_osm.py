"""OSM XML reader: the real samples, compression by magic bytes, Overpass and XML failures."""

from __future__ import annotations

import bz2
import gzip
from pathlib import Path

import pytest

from stopsync.errors import InputError
from stopsync.pipeline import osm as osm_module
from stopsync.pipeline.osm import osm_kind, read_osm


def by_id(path: Path) -> dict:
    return {e.osm_id: e for e in read_osm(path).records}


def test_sample_counts_and_kinds(osm_sample: Path) -> None:
    result = read_osm(osm_sample)
    # 125 nodes: 66 public_transport=stop_position; 50 public_transport=platform plus 4 with
    # only highway=bus_stop (Bex Vasselin, Beatenbucht, 2x Rigaud); 4 public_transport=station
    # plus the Vernayaz railway=halt without public_transport.
    assert result.stats == {
        "elements": 125,
        "per_kind": {"platform": 54, "station": 5, "stop_position": 66},
        "nodes_read": 125,
        "ways_read": 0,
        "relations_read": 0,
        "ways_without_coordinates": 0,
        "routes": 0,
        "route_masters": 0,
    }


def test_sample_element_details(osm_sample: Path) -> None:
    elements = by_id(osm_sample)
    stampf = elements["node/34674546"]
    assert (stampf.lat, stampf.lon) == (47.0415251, 9.0686979)
    assert stampf.kind == "stop_position"
    assert stampf.uic_ref == "8580266"
    assert stampf.tags["uic_name"] == "Glarus, Stampf"
    assert elements["node/2888950257"].kind == "station"  # railway=halt, Vernayaz
    assert elements["node/3329987894"].kind == "station"  # public_transport=station
    assert elements["node/3220361523"].sloid == "ch:1:sloid:79239:0:510"
    assert elements["node/11552206970"].kind == "platform"  # bus_stop only, Bex Vasselin
    assert elements["node/11552206970"].uic_ref == ""
    # stop_position plus amenity=ferry_terminal: the explicit role wins.
    assert elements["node/3659211870"].kind == "stop_position"


@pytest.mark.parametrize(
    ("tags", "kind"),
    [
        ({"public_transport": "station"}, "station"),
        ({"railway": "station"}, "station"),
        ({"railway": "halt", "public_transport": "stop_position"}, "stop_position"),
        ({"railway": "halt", "public_transport": "platform"}, "platform"),
        ({"aerialway": "station"}, "platform"),
        ({"aerialway": "station", "public_transport": "station"}, "platform"),
        ({"highway": "bus_stop"}, "platform"),
        ({"railway": "platform"}, "platform"),
        ({"amenity": "ferry_terminal"}, "platform"),
        ({"railway": "tram_stop"}, "stop_position"),
        ({"railway": "stop"}, "stop_position"),
        ({"uic_ref": "8500000"}, "other"),
    ],
)
def test_kind_rules(tags: dict[str, str], kind: str) -> None:
    assert osm_kind(tags) == kind


def test_liechtenstein_extract(liechtenstein_osm: Path) -> None:
    result = read_osm(liechtenstein_osm)
    assert result.stats["nodes_read"] == 65733
    assert result.stats["ways_read"] == 7121
    bus_stops = [e for e in result.records if e.tags.get("highway") == "bus_stop"]
    assert len(bus_stops) == 308  # per the data README
    ways = {e.osm_id: e for e in result.records if e.osm_type == "way"}
    assert len(ways) == 3
    # way 2186 (railway=platform) has nodes 25069, 26811, 25070, 25068; their mean, by hand:
    platform = ways["way/2186"]
    assert platform.kind == "platform"
    assert platform.lat == pytest.approx(47.2005678, abs=1e-7)
    assert platform.lon == pytest.approx(9.5419877, abs=1e-7)


def test_compression_is_detected_by_content(osm_sample: Path, tmp_path: Path) -> None:
    data = osm_sample.read_bytes()
    as_bz2 = tmp_path / "sample.osm"  # misleading name on purpose
    as_bz2.write_bytes(bz2.compress(data))
    as_gz = tmp_path / "sample.xml"
    as_gz.write_bytes(gzip.compress(data))
    plain = read_osm(osm_sample).stats
    assert read_osm(as_bz2).stats == plain
    assert read_osm(as_gz).stats == plain


OVERPASS_ERROR = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6" generator="Overpass API 0.7.62">
<note>The data included in this document is from www.openstreetmap.org.</note>
<meta osm_base="2026-11-26T02:00:00Z" areas="2026-11-26T01:00:00Z"/>
  <node id="1" lat="46.9" lon="7.4"><tag k="highway" v="bus_stop"/></node>
<remark> runtime error: Query timed out in "query" at line 4 after 901 seconds. </remark>
</osm>
"""


def test_overpass_remark_error_fails(tmp_path: Path) -> None:
    path = tmp_path / "overpass.osm"
    path.write_text(OVERPASS_ERROR, encoding="utf-8")
    with pytest.raises(InputError, match='Overpass failed: runtime error: Query timed out in "query"') as info:
        read_osm(path)
    assert info.value.details["line"] == 6


def test_overpass_memory_remark_fails(tmp_path: Path) -> None:
    path = tmp_path / "overpass.osm"
    path.write_text(
        '<osm version="0.6"><remark>runtime error: Query run out of memory using about 2048 MB '
        "of RAM.</remark></osm>",
        encoding="utf-8",
    )
    with pytest.raises(InputError, match=r"Overpass failed: .*out of memory"):
        read_osm(path)


def test_harmless_remark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "ok.osm"
    path.write_text('<osm version="0.6"><remark>cached answer</remark>'
                    '<node id="5" lat="46.9" lon="7.4"><tag k="railway" v="tram_stop"/></node>'
                    "</osm>", encoding="utf-8")
    assert read_osm(path).stats["per_kind"] == {"stop_position": 1}


def test_html_error_page_fails(tmp_path: Path) -> None:
    path = tmp_path / "answer.osm"
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0">\n'
        "<html><head><title>OSM3S Response</title></head><body>\n"
        '<p><strong style="color:#FF0000">Error</strong>: runtime error: open64: 0 Success '
        "/osm3s_osm_base Dispatcher_Client::request_read_and_idx::timeout. The server is "
        "probably too busy to handle your request.</p>\n</body></html>\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError, match="Overpass failed: the answer is an HTML page: "
                                         "Error : runtime error: open64"):
        read_osm(path)


def test_truncated_xml_names_the_line(osm_sample: Path, tmp_path: Path) -> None:
    lines = osm_sample.read_text(encoding="utf-8").splitlines(keepends=True)
    path = tmp_path / "truncated.osm"
    # Cut in the middle of line 200, as an interrupted download does.
    path.write_text("".join(lines[:199]) + lines[199][:12], encoding="utf-8")
    with pytest.raises(InputError, match="malformed or truncated XML") as info:
        read_osm(path)
    assert str(path) in info.value.message
    assert info.value.details["line"] == 200


def test_truncated_bz2_fails(liechtenstein_osm: Path, tmp_path: Path) -> None:
    path = tmp_path / "cut.osm.bz2"
    path.write_bytes(liechtenstein_osm.read_bytes()[:200_000])
    with pytest.raises(InputError, match=r"damaged compression|truncated"):
        read_osm(path)


def test_malformed_xml_fails(tmp_path: Path) -> None:
    path = tmp_path / "broken.osm"
    path.write_text('<osm version="0.6">\n<node id="1" lat="46.9" lon="7.4">\n</way>\n</osm>\n',
                    encoding="utf-8")
    with pytest.raises(InputError, match="malformed") as info:
        read_osm(path)
    assert info.value.details["line"] == 3


def test_document_without_osm_root_fails(tmp_path: Path) -> None:
    path = tmp_path / "gpx.xml"
    path.write_text('<?xml version="1.0"?>\n<gpx version="1.1"><wpt lat="1" lon="2"/></gpx>\n',
                    encoding="utf-8")
    with pytest.raises(InputError, match=r"not an OSM XML document \(root element <gpx>"):
        read_osm(path)


def test_empty_file_fails(tmp_path: Path) -> None:
    path = tmp_path / "empty.osm"
    path.write_bytes(b"")
    with pytest.raises(InputError):
        read_osm(path)


def test_node_without_coordinates_fails(tmp_path: Path) -> None:
    path = tmp_path / "nocoord.osm"
    path.write_text('<osm version="0.6"><node id="1"><tag k="highway" v="bus_stop"/></node></osm>',
                    encoding="utf-8")
    with pytest.raises(InputError, match="invalid id or coordinate"):
        read_osm(path)


def test_way_centre_and_unsorted_nodes(tmp_path: Path) -> None:
    # Nodes out of id order exercise the fallback index; the closed ring counts its corner once.
    path = tmp_path / "ways.osm"
    path.write_text(
        '<osm version="0.6">'
        '<node id="30" lat="47.0" lon="8.0"/><node id="10" lat="47.0" lon="8.2"/>'
        '<node id="20" lat="47.2" lon="8.2"/><node id="40" lat="47.2" lon="8.0"/>'
        '<way id="7"><nd ref="30"/><nd ref="10"/><nd ref="20"/><nd ref="40"/><nd ref="30"/>'
        '<tag k="public_transport" v="platform"/></way>'
        '<way id="8"><nd ref="10"/><nd ref="20"/><tag k="highway" v="residential"/></way>'
        '<way id="9"><nd ref="99"/><tag k="uic_ref" v="8500001"/></way>'
        "</osm>",
        encoding="utf-8",
    )
    result = read_osm(path)
    assert result.stats["ways_read"] == 3
    assert result.stats["ways_without_coordinates"] == 1
    [way] = result.records
    assert way.osm_id == "way/7"
    assert way.lat == pytest.approx(47.1)
    assert way.lon == pytest.approx(8.1)


# --- routes -----------------------------------------------------------------------------------

ROUTES_XML = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6" generator="{generator}">
  <node id="1" lat="47.0" lon="8.0"><tag k="public_transport" v="platform"/></node>
  <node id="2" lat="47.1" lon="8.1"><tag k="public_transport" v="stop_position"/></node>
  <node id="3" lat="47.2" lon="8.2"><tag k="highway" v="bus_stop"/></node>
  <way id="10"><nd ref="1"/><nd ref="2"/><tag k="highway" v="residential"/></way>
  <relation id="100">
    <member type="node" ref="3" role="platform_entry_only"/>
    <member type="node" ref="1" role="platform"/>
    <member type="way" ref="10" role=""/>
    <member type="node" ref="2" role="stop"/>
    <tag k="type" v="route"/><tag k="route" v="bus"/><tag k="ref" v=" 12 "/>
    <tag k="name" v="Bus 12: Vaduz =&gt; Schaan"/><tag k="gtfs:route_id" v="92-12-j24-1"/>
  </relation>
  <relation id="101">
    <member type="node" ref="2" role="stop"/>
    <tag k="type" v="route"/><tag k="route" v="hiking"/>
  </relation>
  <relation id="102">
    <member type="node" ref="1" role=""/>
    <tag k="type" v="route"/><tag k="route" v="foot;bicycle"/>
  </relation>
  <relation id="103">
    <member type="node" ref="1" role="stop"/>
    <tag k="type" v="multipolygon"/>
  </relation>
  <relation id="200">
    <member type="relation" ref="100" role=""/>
    <member type="relation" ref="104" role=""/>
    <tag k="type" v="route_master"/><tag k="route_master" v="bus"/><tag k="ref" v="12"/>
  </relation>
  <relation id="201">
    <member type="relation" ref="101" role=""/>
    <tag k="type" v="route_master"/><tag k="route_master" v="hiking"/>
  </relation>
</osm>
"""


def _must_not_run(*args: object) -> None:
    raise AssertionError("the other reader should have read this file")


# An Overpass generator sends the file to the lxml reader, any other to libosmium.
@pytest.mark.parametrize(("generator", "unused_reader"),
                         [("Overpass API 0.7.62", "_read_osmium"), ("JOSM", "_read_lxml")])
def test_routes_keep_member_order_and_skip_non_transit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, generator: str, unused_reader: str
) -> None:
    monkeypatch.setattr(osm_module, unused_reader, _must_not_run)
    path = tmp_path / "routes.osm"
    path.write_text(ROUTES_XML.format(generator=generator), encoding="utf-8")
    result = read_osm(path)
    routes = {route.osm_id: route for route in result.related["routes"]}
    assert list(routes) == ["relation/100", "relation/200"]
    bus = routes["relation/100"]
    assert bus.kind == "route" and bus.route == "bus" and bus.ref == "12"
    assert bus.name == "Bus 12: Vaduz => Schaan" and bus.gtfs_route_id == "92-12-j24-1"
    assert [(m.osm_id, m.role) for m in bus.members] == [
        ("node/3", "platform_entry_only"), ("node/1", "platform"), ("way/10", ""), ("node/2", "stop")]
    master = routes["relation/200"]
    assert master.kind == "route_master" and master.route == "bus"
    assert [m.osm_id for m in master.members] == ["relation/100", "relation/104"]
    assert result.stats["routes"] == 1 and result.stats["route_masters"] == 1
    assert result.stats["relations_read"] == 6
    # Element selection is unchanged by routes: the three stop nodes, no way, no relation.
    assert sorted(e.osm_id for e in result.records) == ["node/1", "node/2", "node/3"]


def test_overpass_way_centre_is_used(tmp_path: Path) -> None:
    # "out tags center" gives ways without node refs but with their centre point.
    path = tmp_path / "overpass.osm"
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6" generator="Overpass API 0.7.62">\n'
        '<note>The data included in this document is from www.openstreetmap.org.</note>\n'
        '<way id="5"><center lat="47.1234567" lon="8.7654321"/>'
        '<tag k="railway" v="platform"/><tag k="ref" v="3"/></way>\n'
        '<way id="6"><center lat="46.5" lon="7.5"/><nd ref="1"/><nd ref="2"/>'
        '<tag k="public_transport" v="platform"/></way>\n'
        "</osm>\n",
        encoding="utf-8",
    )
    result = read_osm(path)
    ways = {e.osm_id: e for e in result.records}
    assert (ways["way/5"].lat, ways["way/5"].lon, ways["way/5"].kind) == (47.1234567, 8.7654321, "platform")
    # The centre wins even though the way's nodes are not in the answer.
    assert (ways["way/6"].lat, ways["way/6"].lon) == (46.5, 7.5)
    assert result.stats["ways_without_coordinates"] == 0


def test_liechtenstein_bus_routes(liechtenstein_osm: Path) -> None:
    result = read_osm(liechtenstein_osm)
    routes = result.related["routes"]
    # 38 type=route relations: 17 bus (per the data README), the rest cycling, road, skating,
    # hiking and one foot;bicycle route.
    assert [r.route for r in routes] == ["bus"] * 17
    assert result.stats["routes"] == 17 and result.stats["route_masters"] == 0
    assert result.stats["relations_read"] == 113
    bus_12 = next(r for r in routes if r.name == "Bus 12")
    assert bus_12.ref == "12" and len(bus_12.members) == 201
    assert bus_12.members[0].osm_id == "way/7935"


# --- the two parsers and PBF agree --------------------------------------------------------------


@pytest.fixture(scope="module")
def liechtenstein_pbf(liechtenstein_osm: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    import osmium

    folder = tmp_path_factory.mktemp("pbf")
    written = folder / "liechtenstein.osm.pbf"
    with osmium.SimpleWriter(str(written)) as writer:
        for obj in osmium.FileProcessor(str(liechtenstein_osm)):
            writer.add(obj)
    # No suffix: the format must be recognised by content.
    return written.rename(folder / "liechtenstein.data")


def _same_results(left: object, right: object) -> None:
    assert left.records == right.records  # type: ignore[attr-defined]
    assert left.related == right.related  # type: ignore[attr-defined]
    assert left.stats == right.stats  # type: ignore[attr-defined]


def test_pbf_gives_the_same_result_as_xml(liechtenstein_osm: Path, liechtenstein_pbf: Path) -> None:
    assert liechtenstein_pbf.read_bytes()[4:15] == b"\n\tOSMHeader"
    from_xml = read_osm(liechtenstein_osm)
    from_pbf = read_osm(liechtenstein_pbf)
    assert len(from_pbf.records) == 328 and len(from_pbf.related["routes"]) == 17
    _same_results(from_xml, from_pbf)
    platform = next(e for e in from_pbf.records if e.osm_id == "way/2186")
    assert platform.lat == pytest.approx(47.2005678, abs=1e-7)


def test_lxml_and_libosmium_agree_on_real_data(
    liechtenstein_osm: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Claiming to be an Overpass answer sends the same content through the lxml reader.
    text = bz2.decompress(liechtenstein_osm.read_bytes()).decode("utf-8")
    as_overpass = tmp_path / "overpass.osm"
    as_overpass.write_text(text.replace('generator="osmium/1.10.0"', 'generator="Overpass API 0.7.62"', 1),
                           encoding="utf-8")
    from_libosmium = read_osm(liechtenstein_osm)
    monkeypatch.setattr(osm_module, "_read_osmium", _must_not_run)
    _same_results(from_libosmium, read_osm(as_overpass))


def test_truncated_pbf_fails(liechtenstein_pbf: Path, tmp_path: Path) -> None:
    path = tmp_path / "cut.osm.pbf"
    data = liechtenstein_pbf.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="malformed or truncated PBF") as info:
        read_osm(path)
    assert str(path) in info.value.message


def test_osm_without_version_is_still_read(tmp_path: Path) -> None:
    # libosmium refuses a root without version="0.6"; such files go to the lenient reader.
    path = tmp_path / "josm.osm"
    path.write_text("<osm><node id='4' lat='46.9' lon='7.4'><tag k='highway' v='bus_stop'/></node></osm>",
                    encoding="utf-8")
    assert [e.osm_id for e in read_osm(path).records] == ["node/4"]


def test_overpass_remark_at_the_end_of_a_large_answer_fails(liechtenstein_osm: Path, tmp_path: Path) -> None:
    # No Overpass generator and no remark in the first bytes: the check of the file's tail catches it.
    text = bz2.decompress(liechtenstein_osm.read_bytes()).decode("utf-8")
    text = text.replace("</osm>", "<remark> runtime error: Query ran out of memory in \"recurse\" </remark>\n</osm>")
    path = tmp_path / "answer.osm"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match="Overpass failed: runtime error: Query ran out of memory"):
        read_osm(path)


def test_way_centre_after_the_sniffed_head_switches_reader(tmp_path: Path) -> None:
    # An Overpass answer without its generator (e.g. passed through another tool) whose first
    # <center> lies far into the file: libosmium refuses it, the lxml reader takes over.
    nodes = "".join(f'<node id="{i}" lat="47.0" lon="8.0"><tag k="name" v="{"x" * 60}"/></node>\n'
                    for i in range(1, 2001))
    path = tmp_path / "answer.osm"
    path.write_text(f'<osm version="0.6">\n{nodes}<way id="9"><center lat="47.5" lon="8.5"/>'
                    '<tag k="public_transport" v="platform"/></way>\n</osm>\n', encoding="utf-8")
    assert path.stat().st_size > 65536
    result = read_osm(path)
    assert [(e.osm_id, e.lat, e.lon) for e in result.records] == [("way/9", 47.5, 8.5)]
    assert result.stats["nodes_read"] == 2000 and result.stats["ways_read"] == 1
