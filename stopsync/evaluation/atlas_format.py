"""Writing rows in the exact ATLAS traffic-point export format (34 columns, ``;``, UTF-8 + BOM)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from typing import TextIO

import numpy as np
from numpy.typing import NDArray

# The header of the real export (``atlas_traffic_points_sample.csv``), in its order.
ATLAS_COLUMNS = (
    "sloid", "numberShort", "uicCountryCode", "number", "checkDigit", "validFrom", "validTo", "designation",
    "designationOperational", "length", "boardingAreaHeight", "compassDirection", "parentSloid",
    "trafficPointElementType", "lv95East", "lv95North", "wgs84East", "wgs84North", "height", "creationDate",
    "editionDate", "parentSloidServicePoint", "designationOfficial", "servicePointBusinessOrganisation",
    "servicePointBusinessOrganisationNumber", "servicePointBusinessOrganisationAbbreviationDe",
    "servicePointBusinessOrganisationAbbreviationFr", "servicePointBusinessOrganisationAbbreviationIt",
    "servicePointBusinessOrganisationAbbreviationEn", "servicePointBusinessOrganisationDescriptionDe",
    "servicePointBusinessOrganisationDescriptionFr", "servicePointBusinessOrganisationDescriptionIt",
    "servicePointBusinessOrganisationDescriptionEn", "status",
)
OPEN_ENDED = "9999-12-31"


@dataclass(frozen=True)
class Operator:
    sboid: str
    number: str
    abbreviations: tuple[str, str, str, str]  # De, Fr, It, En
    descriptions: tuple[str, str, str, str]
    osm_alias: str  # how OSM mappers often write it in ``operator``

    @property
    def abbreviation(self) -> str:
        return self.abbreviations[0]


def _same(abbreviation: str, description: str, sboid: str, number: str, alias: str = "") -> Operator:
    return Operator(sboid, number, (abbreviation,) * 4, (description,) * 4, alias or abbreviation)


SBB = Operator(
    "ch:1:sboid:100001", "11.0", ("SBB", "CFF", "FFS", "SBB"),
    ("Schweizerische Bundesbahnen SBB", "Chemins de fer fédéraux suisses CFF", "Ferrovie federali svizzere FFS",
     "Swiss Federal Railways SBB"),
    "SBB CFF FFS",
)
POSTAUTO = Operator(
    "ch:1:sboid:100602", "801.0", ("PAG", "PAG", "PAG", "PAG"),
    ("PostAuto AG", "CarPostal SA", "AutoPostale SA", "PostBus Ltd"), "PostAuto",
)
# Operators as they appear in the real ATLAS export (business organisations of the sample).
RAIL_OPERATORS = (SBB, _same("AVA-bd", "Aargau Verkehr AG", "ch:1:sboid:100013", "31.0"),
                  _same("NHB-bbb", "Niederhornbahn AG", "ch:1:sboid:100120", "149.0"))
BUS_OPERATORS = (
    POSTAUTO,
    _same("TPG", "Transports Publics Genevois", "ch:1:sboid:100680", "881.0"),
    _same("VBZ", "Verkehrsbetriebe Zürich", "ch:1:sboid:100648", "849.0"),
    _same("STI", "STI Bus AG", "ch:1:sboid:100118", "146.0"),
    _same("BVB", "Basler Verkehrsbetriebe", "ch:1:sboid:100622", "823.0"),
    _same("VBL", "Verkehrsbetriebe Luzern AG", "ch:1:sboid:100619", "820.0"),
    _same("TL", "Transports Publics de la Région Lausannoise sa", "ch:1:sboid:100122", "151.0"),
    _same("BOS", "Bus Ostschweiz", "ch:1:sboid:100111", "138.0"),
    _same("AFA", "AFA Bus AG", "ch:1:sboid:100612", "813.0"),
    _same("VMCV", "Transports publics Vevey-Montreux-Chillon-Villeneuve", "ch:1:sboid:100675", "876.0"),
)


def check_digit(number_short: int) -> int:
    """The ATLAS ``checkDigit``: Luhn over the 5-digit ``numberShort`` (8501405 -> 0)."""
    total = 0
    for position, char in enumerate(reversed(f"{number_short:05d}"[-5:])):
        digit = int(char)
        if position % 2 == 0:
            digit *= 2
            digit = digit - 9 if digit > 9 else digit
        total += digit
    return (10 - total % 10) % 10


def wgs84_to_lv95(lat: NDArray[np.float64], lon: NDArray[np.float64]) -> tuple[NDArray[np.float64],
                                                                             NDArray[np.float64]]:
    """swisstopo's approximate formulas (about 1 m); ATLAS carries both systems."""
    phi = (np.asarray(lat) * 3600.0 - 169028.66) / 10000.0
    lam = (np.asarray(lon) * 3600.0 - 26782.5) / 10000.0
    east = (2600072.37 + 211455.93 * lam - 10938.51 * lam * phi - 0.36 * lam * phi**2 - 44.54 * lam**3)
    north = (1200147.07 + 308807.95 * phi + 3745.25 * lam**2 + 76.63 * phi**2 - 194.56 * lam**2 * phi
             + 119.79 * phi**3)
    return east, north


@dataclass
class AtlasRow:
    """The values of one generated export row; everything else is derived when writing."""

    sloid: str
    number: str
    designation: str
    name: str
    lat: float
    lon: float
    operator: Operator
    valid_from: str
    valid_to: str = OPEN_ENDED
    element_type: str = "BOARDING_PLATFORM"
    parent_sloid: str = ""
    designation_operational: str = ""
    length: str = ""
    boarding_height: str = ""
    compass: str = ""
    height: str = ""
    created: str = ""
    edited: str = ""


def service_point_sloid(number: str) -> str:
    """``8501405`` -> ``ch:1:sloid:1405``; foreign numbers keep all their digits."""
    return f"ch:1:sloid:{int(number[2:]) if number.startswith('85') else int(number)}"


def open_atlas_writer(handle: TextIO) -> csv.DictWriter[str]:
    writer = csv.DictWriter(handle, fieldnames=ATLAS_COLUMNS, delimiter=";", lineterminator="\n")
    writer.writeheader()
    return writer


def write_atlas_row(writer: csv.DictWriter[str], row: AtlasRow, east: float, north: float) -> None:
    number_short = int(row.number[2:])
    op = row.operator
    writer.writerow({
        "sloid": row.sloid, "numberShort": str(number_short), "uicCountryCode": row.number[:2],
        "number": row.number, "checkDigit": str(check_digit(number_short)), "validFrom": row.valid_from,
        "validTo": row.valid_to, "designation": row.designation,
        "designationOperational": row.designation_operational, "length": row.length,
        "boardingAreaHeight": row.boarding_height, "compassDirection": row.compass,
        "parentSloid": row.parent_sloid, "trafficPointElementType": row.element_type,
        "lv95East": f"{east:.5f}", "lv95North": f"{north:.5f}", "wgs84East": f"{row.lon:.11f}",
        "wgs84North": f"{row.lat:.11f}", "height": row.height, "creationDate": row.created,
        "editionDate": row.edited, "parentSloidServicePoint": service_point_sloid(row.number),
        "designationOfficial": row.name, "servicePointBusinessOrganisation": op.sboid,
        "servicePointBusinessOrganisationNumber": op.number,
        "servicePointBusinessOrganisationAbbreviationDe": op.abbreviations[0],
        "servicePointBusinessOrganisationAbbreviationFr": op.abbreviations[1],
        "servicePointBusinessOrganisationAbbreviationIt": op.abbreviations[2],
        "servicePointBusinessOrganisationAbbreviationEn": op.abbreviations[3],
        "servicePointBusinessOrganisationDescriptionDe": op.descriptions[0],
        "servicePointBusinessOrganisationDescriptionFr": op.descriptions[1],
        "servicePointBusinessOrganisationDescriptionIt": op.descriptions[2],
        "servicePointBusinessOrganisationDescriptionEn": op.descriptions[3],
        "status": "VALIDATED",
    })
