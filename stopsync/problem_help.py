"""What each problem type means, in a short line and a help page: likely causes and who
should fix it where. Official names in the data are never translated; these texts are."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ProblemHelp:
    type: str
    title: str
    short: str
    meaning: str
    causes: tuple[str, ...]
    who_fixes: str
    decisions: tuple[str, ...]


ATLAS_EDIT = "the ATLAS data stewards (via the transport company responsible for the stop)"
OSM_EDIT = "OSM mappers, in iD or JOSM (the popup links open the element)"

HELP: dict[str, ProblemHelp] = {
    entry.type: entry
    for entry in (
        ProblemHelp(
            "distance", "Linked platforms far apart",
            "The ATLAS platform and its linked OSM element are more than 15 m apart.",
            "Both records describe the same platform, but their positions disagree. Above 80 m "
            "the link itself may be wrong; SBB rail platforms are long, so they stay minor.",
            ("ATLAS holds a stop-level position for every platform of the stop",
             "the OSM node sits on the road centre or at the station building",
             "the platform was moved and one side was not updated",
             "the link is wrong: another element would be the right counterpart"),
            f"Whoever's position is wrong: {ATLAS_EDIT} or {OSM_EDIT}. Aerial imagery decides.",
            ("ATLAS correct", "OSM correct", "both correct", "not a match"),
        ),
        ProblemHelp(
            "attributes", "Linked platforms disagree on attributes",
            "UIC number, official name, platform code or operator differ between the two sides.",
            "Compared only when both sides have a value: UIC number (uic_ref) and official name "
            "(uic_name) are critical, the platform code (local_ref) significant, the operator "
            "(after alias normalisation, e.g. 'SBB CFF FFS' = 'SBB') minor.",
            ("OSM tags copied from an old timetable", "a stop renamed in ATLAS",
             "platform letters and numbers swapped", "an operator change after a tender"),
            f"Usually {OSM_EDIT}: ATLAS is the official register for numbers, names and operators. "
            f"Platform codes can be wrong on either side.",
            ("use ATLAS value", "use OSM value", "per attribute"),
        ),
        ProblemHelp(
            "unmatched_atlas", "ATLAS platform without OSM counterpart",
            "No OSM element was linked to this ATLAS platform.",
            "Critical when no OSM element carries the stop's UIC number or nothing lies within "
            "80 m; significant when nothing lies within 50 m or the platform counts differ.",
            ("the stop is missing in OSM", "the OSM element lacks uic_ref and lies far away",
             "the platform no longer exists but is still valid in ATLAS"),
            f"{OSM_EDIT} add the stop; {ATLAS_EDIT} retire a platform that no longer exists.",
            ("missing in OSM", "should be deleted (ATLAS)", "not a problem"),
        ),
        ProblemHelp(
            "unmatched_osm", "OSM element without ATLAS counterpart",
            "This OSM platform or stop position was not linked to any ATLAS platform.",
            "Critical when its uic_ref is not a current ATLAS service point; significant when no "
            "ATLAS platform lies within 50 m or the platform counts differ.",
            ("a stale or mistyped uic_ref", "a stop that was closed",
             "a private or school-bus stop that ATLAS does not list"),
            f"{OSM_EDIT} fix or remove the element; {ATLAS_EDIT} add a missing platform.",
            ("missing in ATLAS", "should be deleted (OSM)", "not a problem"),
        ),
        ProblemHelp(
            "duplicate_atlas", "Duplicate ATLAS platforms",
            "Several SLOIDs share the same service-point number and platform code.",
            "ATLAS should list each boarding platform once per service point and code.",
            ("a platform re-created instead of edited", "two directions given the same code"),
            ATLAS_EDIT,
            ("keep", "delete"),
        ),
        ProblemHelp(
            "duplicate_osm", "Duplicate OSM elements",
            "Several OSM elements of one kind share uic_ref and local_ref.",
            "Outside a platform + stop-position pair or trio, two platforms (or two stop "
            "positions) with the same references usually mean a copy.",
            ("an import on top of hand-mapped data", "a platform mapped both as node and as way"),
            OSM_EDIT,
            ("keep", "delete"),
        ),
        ProblemHelp(
            "route_contradiction", "Routes disagree",
            "The timetable lines serving the ATLAS platform and the OSM routes through the element differ.",
            "The link's own route evidence contradicts it: the GTFS (route, direction) tokens of "
            "the platform and those of the OSM routes containing the element do not overlap.",
            ("the link pairs the platform of the other direction",
             "OSM route relations are outdated"),
            f"Check the link first; then {OSM_EDIT} update the route relations.",
            ("link correct", "not a match"),
        ),
    )
}
