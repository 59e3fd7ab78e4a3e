"""One stop per page: ``/stops/<sloid>`` (an ATLAS platform) and ``/osm/<type>/<id>`` (an OSM
element), each with its attributes, its links with the other side's attributes beside its
own, its problems, and where to look at it or edit it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import render_template, url_for
from flask_babel import gettext as _

from ...errors import NotFoundError
from ..api.stops import MAX_OSM_ID, OSM_ID_PATTERN, SLOID_PATTERN, read_stop
from . import bp, labels, read_one_snapshot

# The map's zoom when it opens on one stop: close enough to see its platforms.
STOP_ZOOM = 18
ID_LOCATION = "https://www.openstreetmap.org/edit?editor=id#map=19/{lat}/{lon}"


@dataclass(frozen=True)
class Compared:
    """One attribute on both sides; ``differs`` when both have a value and they disagree."""

    label: str
    atlas: str
    osm: str
    differs: bool


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def compare(atlas: dict[str, Any], osm: dict[str, Any]) -> list[Compared]:
    """The attributes the map's popups compare, by the same rule (blank never differs; case
    and surrounding spaces do not count), and the positions (their distance is the link's)."""
    tags = osm.get("tags") or {}
    pairs = [
        (_("Name"), atlas["name"], tags.get("uic_name") or osm["name"]),
        (_("UIC number"), atlas["number"], osm["uic_ref"] or tags.get("uic_ref")),
        (_("Platform code"), atlas["designation"], osm["local_ref"] or tags.get("local_ref")),
        (_("Operator"), atlas["operator"], tags.get("operator")),
    ]
    rows = [Compared(label, _text(a), _text(o), bool(_text(a) and _text(o) and _text(a).lower() != _text(o).lower()))
            for label, a, o in pairs]
    rows.append(Compared(_("Coordinates"), coordinates(atlas), coordinates(osm), False))
    return rows


def coordinates(item: dict[str, Any]) -> str:
    """Latitude, longitude as people paste them into a map search (not localised)."""
    return f"{item['lat']:.6f}, {item['lon']:.6f}"


@bp.app_template_global()
def stop_page_url(stop_id: str) -> str:
    """The page of a SLOID or a typed OSM id (``node/123``)."""
    if "/" in stop_id:
        osm_type, numeric = stop_id.split("/", 1)
        return url_for("pages.osm_element", osm_type=osm_type, osm_id=numeric)
    return url_for("pages.atlas_platform", sloid=stop_id)


def map_url(stop_id: str, item: dict[str, Any]) -> str:
    """The map centred on the stop, with the stop selected (the parameters map.js reads)."""
    return url_for("map.index", lat=f"{item['lat']:.5f}", lon=f"{item['lon']:.5f}", z=STOP_ZOOM, stop=stop_id)


def load_stop(layer: str, key: str) -> dict[str, Any]:
    """The stop, its links (nearest first) with both ends compared, and the problems naming
    either end, as the API's ``/stops/<id>`` reads them (:func:`read_stop`)."""
    record = read_stop(layer, key)
    atlas = {item["id"]: item for item in record["atlas"]}
    osm = {item["id"]: item for item in record["osm"]}
    stop = (atlas if layer == "atlas" else osm)[key]
    links = []
    for row in sorted(record["links"], key=lambda link: (link["distance_m"], link["sloid"], link["osm_id"])):
        atlas_end, osm_end = atlas.get(row["sloid"]), osm.get(row["osm_id"])
        links.append({
            "sloid": row["sloid"], "osm_id": row["osm_id"], "method": row["method"],
            "distance_m": row["distance_m"], "score": row["score"],
            "other_id": row["osm_id"] if layer == "atlas" else row["sloid"],
            "other": osm_end if layer == "atlas" else atlas_end,
            "comparison": compare(atlas_end, osm_end) if atlas_end and osm_end else [],
        })
    return {"layer": layer, "id": key, "stop": stop, "links": links, "problems": record["problems"]}


def _render(layer: str, key: str) -> str:
    read_one_snapshot()
    page = load_stop(layer, key)
    stop = page["stop"]
    id_editor = (stop["urls"]["id_editor"] if layer == "osm"
                 else ID_LOCATION.format(lat=f"{stop['lat']:.6f}", lon=f"{stop['lon']:.6f}"))
    return render_template("pages/stop.html", **page, label=labels, coordinates=coordinates,
                           map_url=map_url(key, stop), id_editor=id_editor)


@bp.get("/stops/<sloid>")
def atlas_platform(sloid: str) -> str:
    """One ATLAS platform."""
    if not SLOID_PATTERN.fullmatch(sloid):
        raise NotFoundError(f"{sloid[:80]!r} is not a SLOID (ch:1:sloid:...)")
    return _render("atlas", sloid)


@bp.get("/osm/<any(node, way, relation):osm_type>/<osm_id>")
def osm_element(osm_type: str, osm_id: str) -> str:
    """One OSM element."""
    key = f"{osm_type}/{osm_id}"
    if not OSM_ID_PATTERN.fullmatch(key) or int(osm_id) > MAX_OSM_ID:
        raise NotFoundError(f"{osm_id[:80]!r} is not an OSM {osm_type} id")
    return _render("osm", key)
