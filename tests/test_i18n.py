"""Languages: German, French, Italian and English, chosen by ``?lang=`` (remembered in the
session), then ``Accept-Language``, then English; numbers in the reader's locale; every
interface string translated in every catalogue."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask

from stopsync.i18n import LANGUAGES, number

from .conftest import dispose, make_app

REPO = Path(__file__).resolve().parents[1]
TRANSLATIONS = REPO / "stopsync" / "translations"

NAVBAR_AND_LEGEND = {
    "en": ("ATLAS platforms ↔ OpenStreetMap stops", "Legend", "ATLAS platform, linked"),
    "de": ("ATLAS-Haltekanten ↔ OpenStreetMap-Haltestellen", "Legende", "ATLAS-Haltekante, verknüpft"),
    "fr": ("Quais ATLAS ↔ arrêts OpenStreetMap", "Légende", "Quai ATLAS, relié"),
    "it": ("Marciapiedi ATLAS ↔ fermate OpenStreetMap", "Legenda", "Marciapiede ATLAS, collegato"),
}
PROBLEM_TYPES_TITLE = {"en": "Problem types", "de": "Problemarten", "fr": "Types de problèmes",
                       "it": "Tipi di problema"}


def _catalogue(language: str) -> Any:
    with (TRANSLATIONS / language / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle, locale=language)


@pytest.fixture(scope="module", autouse=True)
def compiled_catalogues() -> None:
    """``make translations`` compiles the catalogues; a bare ``pytest`` on a fresh clone must
    not depend on having run it, so stale or missing ``.mo`` files are compiled here."""
    for language in LANGUAGES:
        po = TRANSLATIONS / language / "LC_MESSAGES" / "messages.po"
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            with mo.open("wb") as handle:
                write_mo(handle, _catalogue(language))


@pytest.fixture
def i18n_app(tmp_path: Path) -> Iterator[Flask]:
    app = make_app("sqlite", tmp_path)
    yield app
    dispose(app)


def _text(html: str, css_class: str) -> str:
    match = re.search(rf'class="{css_class}"[^>]*>(.*?)</', html, re.S)
    assert match, f"no .{css_class} in the page"
    return unescape(match.group(1)).strip()


def _html_lang(html: str) -> str:
    match = re.search(r'<html lang="([^"]+)"', html)
    assert match
    return match.group(1)


@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_each_language_renders_translated_navbar_and_legend(i18n_app: Flask, language: str) -> None:
    html = i18n_app.test_client().get(f"/?lang={language}").get_data(as_text=True)
    tagline, legend, linked = NAVBAR_AND_LEGEND[language]
    assert _html_lang(html) == language
    assert _text(html, "navbar-tagline") == tagline
    assert _text(html, "map-legend-title") == legend
    assert linked in unescape(html)
    assert re.search(rf'data-lang="{language}" class="is-current"', html)


@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_script_strings_are_translated_too(i18n_app: Flask, language: str) -> None:
    html = i18n_app.test_client().get(f"/?lang={language}").get_data(as_text=True)
    match = re.search(r'data-i18n="([^"]*)"', html)
    assert match
    strings = json.loads(unescape(match.group(1)))
    catalogue = _catalogue(language)
    assert strings["group_problem_type"] == (catalogue.get("Problem type").string or "Problem type")
    assert strings["edit_josm"] == (catalogue.get("Load in JOSM").string or "Load in JOSM")
    assert all(isinstance(value, str) and value for value in strings.values())
    if language != "en":
        assert strings["group_problem_type"] != "Problem type"


def test_lang_parameter_is_remembered_in_the_session(i18n_app: Flask) -> None:
    client = i18n_app.test_client()
    assert _html_lang(client.get("/?lang=fr").get_data(as_text=True)) == "fr"
    # No parameter and an Italian browser: the session's French still wins.
    page = client.get("/help/problems", headers={"Accept-Language": "it"}).get_data(as_text=True)
    assert _html_lang(page) == "fr"
    assert PROBLEM_TYPES_TITLE["fr"] in page
    # Another ?lang= replaces the remembered one.
    client.get("/help/problems?lang=de")
    assert PROBLEM_TYPES_TITLE["de"] in client.get("/help/problems").get_data(as_text=True)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("de-CH,de;q=0.9,en;q=0.5", "de"),
        ("it-CH, fr;q=0.5", "it"),
        ("es-ES, fr;q=0.3", "fr"),
        ("es-ES, pt;q=0.8", "en"),
        ("", "en"),
    ],
)
def test_accept_language_negotiation(i18n_app: Flask, header: str, expected: str) -> None:
    headers = {"Accept-Language": header} if header else {}
    page = i18n_app.test_client().get("/help/problems", headers=headers).get_data(as_text=True)
    assert _html_lang(page) == expected
    assert PROBLEM_TYPES_TITLE[expected] in page


def test_unknown_lang_falls_back_without_error(i18n_app: Flask) -> None:
    client = i18n_app.test_client()
    response = client.get("/?lang=xx")
    assert response.status_code == 200
    assert _html_lang(response.get_data(as_text=True)) == "en"
    # A remembered language survives a bogus parameter, and the bogus one is not stored.
    client.get("/?lang=it")
    assert _html_lang(client.get("/?lang=<script>").get_data(as_text=True)) == "it"
    with client.session_transaction() as session:
        assert session["lang"] == "it"


@pytest.mark.parametrize(
    ("language", "expected"),
    [("en", "12,345.5"), ("de", "12'345.5"), ("fr", "12'345,5"), ("it", "12'345.5")],
)
def test_numbers_are_formatted_per_locale(i18n_app: Flask, language: str, expected: str) -> None:
    with i18n_app.test_request_context(f"/?lang={language}"):
        assert number(12345.5) == expected
    html = i18n_app.test_client().get(f"/?lang={language}").get_data(as_text=True)
    expected_locale = {"en": "en", "de": "de-CH", "fr": "fr-CH", "it": "it-CH"}[language]
    assert f'data-locale="{expected_locale}"' in html


def test_language_links_keep_the_query_string(i18n_app: Flask) -> None:
    html = i18n_app.test_client().get("/?problem_type=distance&lang=de").get_data(as_text=True)
    assert 'href="/?problem_type=distance&amp;lang=fr"' in html


def _used_msgids() -> set[str]:
    """Every string the templates and the Python code mark for translation."""
    method_map = [("**.py", "python"), ("templates/**.html", "jinja2")]
    found = extract_from_dir(str(REPO / "stopsync"), method_map=method_map)
    ids = {message[2] if isinstance(message[2], str) else message[2][0] for message in found}
    return {msgid for msgid in ids if msgid}


def test_extraction_finds_the_interface_strings() -> None:
    used = _used_msgids()
    assert {"Legend", "Problem types", "Load in JOSM", "Back to the map"} <= used


@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_every_msgid_is_translated_in_every_catalogue(language: str) -> None:
    catalogue = _catalogue(language)
    missing = []
    for msgid in sorted(_used_msgids()):
        message = catalogue.get(msgid)
        if message is None or not message.string or message.fuzzy:
            missing.append(msgid)
    assert missing == [], f"{language}: untranslated {missing}"
    # Placeholders filled in by map.js must survive translation.
    for message in catalogue:
        if message.id and message.string:
            assert set(re.findall(r"\{\w+\}", message.id)) == set(re.findall(r"\{\w+\}", message.string)), message.id
