"""What each problem type means, in a short line and a help page: likely causes and who
should fix it where. Official names in the data are never translated; these texts are.

``HELP`` holds the English source texts, marked with ``N_`` so that ``make messages`` extracts
them; :meth:`ProblemHelp.translated` gives them in the reader's language (at request time:
the module is imported once, long before anyone asks in French).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from flask_babel import gettext


def N_(message: str) -> str:
    """Marks a text for extraction; it is translated later, where it is shown."""
    return message


# Filled into the ``{atlas_edit}`` / ``{osm_edit}`` placeholders of ``who_fixes``.
ATLAS_EDIT = N_("the ATLAS data stewards (via the transport company responsible for the stop)")
OSM_EDIT = N_("OSM mappers, in iD or JOSM (the popup links open the element)")


@dataclass(frozen=True)
class ProblemHelp:
    type: str
    title: str
    short: str
    meaning: str
    causes: tuple[str, ...]
    who_fixes: str
    decisions: tuple[str, ...]

    def translated(self) -> ProblemHelp:
        """These texts in the language of the current request."""
        return replace(
            self,
            title=gettext(self.title),
            short=gettext(self.short),
            meaning=gettext(self.meaning),
            causes=tuple(gettext(cause) for cause in self.causes),
            who_fixes=gettext(self.who_fixes).format(atlas_edit=gettext(ATLAS_EDIT), osm_edit=gettext(OSM_EDIT)),
            decisions=tuple(gettext(decision) for decision in self.decisions),
        )


HELP: dict[str, ProblemHelp] = {
    entry.type: entry
    for entry in (
        ProblemHelp(
            "distance", N_("Linked platforms far apart"),
            N_("The ATLAS platform and its linked OSM element are more than 15 m apart."),
            N_("Both records describe the same platform, but their positions disagree. Above 80 m "
               "the link itself may be wrong; SBB rail platforms are long, so they stay minor."),
            (N_("ATLAS holds a stop-level position for every platform of the stop"),
             N_("the OSM node sits on the road centre or at the station building"),
             N_("the platform was moved and one side was not updated"),
             N_("the link is wrong: another element would be the right counterpart")),
            N_("Whoever's position is wrong: {atlas_edit} or {osm_edit}. Aerial imagery decides."),
            (N_("ATLAS correct"), N_("OSM correct"), N_("both correct"), N_("not a match")),
        ),
        ProblemHelp(
            "attributes", N_("Linked platforms disagree on attributes"),
            N_("UIC number, official name, platform code or operator differ between the two sides."),
            N_("Compared only when both sides have a value: UIC number (uic_ref) and official name "
               "(uic_name) are critical, the platform code (local_ref) significant, the operator "
               "(after alias normalisation, e.g. 'SBB CFF FFS' = 'SBB') minor."),
            (N_("OSM tags copied from an old timetable"), N_("a stop renamed in ATLAS"),
             N_("platform letters and numbers swapped"), N_("an operator change after a tender")),
            N_("Usually {osm_edit}: ATLAS is the official register for numbers, names and operators. "
               "Platform codes can be wrong on either side."),
            (N_("use ATLAS value"), N_("use OSM value"), N_("per attribute")),
        ),
        ProblemHelp(
            "unmatched_atlas", N_("ATLAS platform without OSM counterpart"),
            N_("No OSM element was linked to this ATLAS platform."),
            N_("Critical when no OSM element carries the stop's UIC number or nothing lies within "
               "80 m; significant when nothing lies within 50 m or the platform counts differ."),
            (N_("the stop is missing in OSM"), N_("the OSM element lacks uic_ref and lies far away"),
             N_("the platform no longer exists but is still valid in ATLAS")),
            N_("{osm_edit} add the stop; {atlas_edit} retire a platform that no longer exists."),
            (N_("missing in OSM"), N_("should be deleted (ATLAS)"), N_("not a problem")),
        ),
        ProblemHelp(
            "unmatched_osm", N_("OSM element without ATLAS counterpart"),
            N_("This OSM platform or stop position was not linked to any ATLAS platform."),
            N_("Critical when its uic_ref is not a current ATLAS service point; significant when no "
               "ATLAS platform lies within 50 m or the platform counts differ."),
            (N_("a stale or mistyped uic_ref"), N_("a stop that was closed"),
             N_("a private or school-bus stop that ATLAS does not list")),
            N_("{osm_edit} fix or remove the element; {atlas_edit} add a missing platform."),
            (N_("missing in ATLAS"), N_("should be deleted (OSM)"), N_("not a problem")),
        ),
        ProblemHelp(
            "duplicate_atlas", N_("Duplicate ATLAS platforms"),
            N_("Several SLOIDs share the same service-point number and platform code."),
            N_("ATLAS should list each boarding platform once per service point and code."),
            (N_("a platform re-created instead of edited"), N_("two directions given the same code")),
            N_("Fixed in ATLAS by {atlas_edit}."),
            (N_("keep"), N_("delete")),
        ),
        ProblemHelp(
            "duplicate_osm", N_("Duplicate OSM elements"),
            N_("Several OSM elements of one kind share uic_ref and local_ref."),
            N_("Outside a platform + stop-position pair or trio, two platforms (or two stop "
               "positions) with the same references usually mean a copy."),
            (N_("an import on top of hand-mapped data"), N_("a platform mapped both as node and as way")),
            N_("Fixed in OSM by {osm_edit}."),
            (N_("keep"), N_("delete")),
        ),
        ProblemHelp(
            "route_contradiction", N_("Routes disagree"),
            N_("The timetable lines serving the ATLAS platform and the OSM routes through the element differ."),
            N_("The link's own route evidence contradicts it: the GTFS (route, direction) tokens of "
               "the platform and those of the OSM routes containing the element do not overlap."),
            (N_("the link pairs the platform of the other direction"),
             N_("OSM route relations are outdated")),
            N_("Check the link first; then {osm_edit} update the route relations."),
            (N_("link correct"), N_("not a match")),
        ),
    )
}
