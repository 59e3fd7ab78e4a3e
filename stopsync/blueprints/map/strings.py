"""The map script's interface strings, translated per request and handed to ``map.js`` as JSON
in a ``data-i18n`` attribute (the CSP forbids inline script). Keys are stable identifiers;
``{name}`` placeholders are filled in by the script."""

from __future__ import annotations

from collections.abc import Callable

from flask_babel import gettext as _

from ...problem_help import HELP


def map_strings() -> dict[str, str]:
    strings = {
        "no_name": _("(no name)"),
        "atlas_platform": _("ATLAS platform"),
        "osm_element": _("OSM element"),
        "osm_platform": _("OSM platform"),
        "osm_stop_position": _("OSM stop position"),
        "osm_station": _("OSM station"),
        "link": _("Link ATLAS ↔ OSM"),
        "service_point": _("Service point"),
        "designation": _("Designation"),
        "operator": _("Operator"),
        "matched": _("Matched"),
        "yes": _("yes"),
        "no": _("no"),
        "linked_to": _("Linked to"),
        "osm_id": _("OSM id"),
        "method": _("Method"),
        "distance": _("Distance"),
        "evidence": _("Evidence"),
        "score": _("Score"),
        "name": _("Name"),
        "uic_number": _("UIC number"),
        "platform_code": _("Platform code"),
        "attribute": _("Attribute"),
        "atlas": _("ATLAS"),
        "osm": _("OSM"),
        "comparison": _("ATLAS and OSM side by side"),
        "differs": _("differs"),
        "problems": _("Problems"),
        "no_problems": _("No problems."),
        "priority_n": _("priority {n}"),
        "routes": _("Routes"),
        "unit": _("Stop unit"),
        "unit_pair": _("pair"),
        "unit_trio": _("trio"),
        "unit_single": _("single"),
        "atlas_page": _("ATLAS service point"),
        "osm_page": _("openstreetmap.org"),
        "edit_id": _("Edit in iD"),
        "edit_josm": _("Load in JOSM"),
        "josm_sent": _("Sent to JOSM."),
        "josm_failed": _("JOSM did not answer: is it running with remote control enabled?"),
        "details_loading": _("Loading details…"),
        "details_failed": _("Could not load the details."),
        "layer_atlas": _("ATLAS platforms"),
        "layer_osm": _("OSM elements"),
        "layer_links": _("Links"),
        "layer_boundaries": _("Cantons and lakes"),
        "counts": _("{atlas} ATLAS · {osm} OSM · {links} links in view"),
        "cluster_counts": _("{count} stops in {clusters} clusters"),
        "cluster_title": _("{count} stops: click to zoom in"),
        "clustered": _("{count} stops shown as clusters: zoom in to see all stops."),
        "truncated": _("Too many stops here (showing {limit}): zoom in to see all stops."),
        "no_data": _("No data published yet."),
        "no_stops": _("No stops in this area."),
        "no_match_filters": _("No stops match the filters here."),
        "load_failed": _("Could not load stops."),
        "load_failed_message": _("Could not load stops: {message}"),
        "load_failed_http": _("Could not load stops (HTTP {status})."),
        "load_unreachable": _("Could not load stops: the server did not answer."),
        "search_none": _("Nothing found for “{q}”."),
        "search_failed": _("The search failed."),
        "remove_filter": _("Remove filter {label}"),
        "stats_atlas": _("ATLAS platforms"),
        "stats_osm": _("OSM elements"),
        "stats_matched": _("{matched} of {total} linked ({rate})"),
        "stats_links": _("Links by method"),
        "stats_problems": _("Problems by type"),
        "stats_none": _("none"),
        "stats_failed": _("Statistics unavailable."),
        "state_linked": _("linked"),
        "state_unmatched": _("unmatched"),
        "kind_platform": _("platform"),
        "kind_stop_position": _("stop position"),
        "kind_station": _("station"),
        "priority_1": _("1 – critical"),  # noqa: RUF001 (a typographic dash)
        "priority_2": _("2 – significant"),  # noqa: RUF001 (a typographic dash)
        "priority_3": _("3 – minor"),  # noqa: RUF001 (a typographic dash)
        "group_method": _("Link method"),
        "group_matched": _("State"),
        "group_operator": _("ATLAS operator"),
        "group_kind": _("OSM group kind"),
        "group_problem_type": _("Problem type"),
        "group_priority": _("Priority"),
        "group_unmatched_reason": _("Why unmatched"),
        "group_osm_operator": _("OSM operator"),
        "group_mode": _("Transport mode"),
        "group_canton": _("Canton"),
        "group_duplicates": _("Duplicates"),
        "duplicates_true": _("is a duplicate"),
        "duplicates_false": _("not a duplicate"),
        "reason_no_osm_within_50m": _("no OSM element within 50 m"),
        "reason_no_candidate": _("no suitable candidate"),
        "reason_contradicting_platform_code": _("platform code contradicts"),
        "reason_ambiguous": _("several equally good candidates"),
        "route": _("Route"),
        "group_route": _("Route"),
        "route_stops": _("{route}: {count} stops highlighted"),
        "route_failed": _("Could not load the stops of route {route}."),
    }
    for problem_type, help_text in HELP.items():
        title = PROBLEM_TITLES.get(problem_type)
        strings[f"problem_{problem_type}"] = title() if title else help_text.title
    for method, label in METHOD_LABELS.items():
        strings[f"method_{method}"] = label()
    for mode, label in MODE_LABELS.items():
        strings[f"mode_{mode}"] = label()
    return strings


# Short names of the problem types for filters, chips and popups (the help pages keep the long
# English explanations).
PROBLEM_TITLES: dict[str, Callable[[], str]] = {
    "distance": lambda: _("Linked platforms far apart"),
    "attributes": lambda: _("Attributes disagree"),
    "unmatched_atlas": lambda: _("ATLAS platform without OSM counterpart"),
    "unmatched_osm": lambda: _("OSM element without ATLAS counterpart"),
    "duplicate_atlas": lambda: _("Duplicate ATLAS platforms"),
    "duplicate_osm": lambda: _("Duplicate OSM elements"),
    "route_contradiction": lambda: _("Routes disagree"),
}

# The built-in matching stages; a plugin's stage shows its own name.
METHOD_LABELS: dict[str, Callable[[], str]] = {
    "exact_reference": lambda: _("UIC number and platform code"),
    "ref_sloid": lambda: _("SLOID tag in OSM"),
    "manual_links": lambda: _("Manual link"),
    "route_evidence": lambda: _("Route evidence"),
    "exact_name": lambda: _("Exact name"),
    "fuzzy_name": lambda: _("Similar name"),
    "shared_reference": lambda: _("Shared reference"),
    "group_proximity": lambda: _("Group proximity"),
    "platform_code_distance": lambda: _("Platform code and distance"),
    "single_candidate": lambda: _("Single candidate nearby"),
    "ratio_test": lambda: _("Clearly nearest candidate"),
}

# Transport modes of the mode filter (values the API does not name here show as they are).
MODE_LABELS: dict[str, Callable[[], str]] = {
    "train": lambda: _("train"),
    "light_rail": lambda: _("light rail"),
    "subway": lambda: _("metro"),
    "tram": lambda: _("tram"),
    "bus": lambda: _("bus"),
    "ferry": lambda: _("boat"),
    "aerialway": lambda: _("cable car"),
    "funicular": lambda: _("funicular"),
}
