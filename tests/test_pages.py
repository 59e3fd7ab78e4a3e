"""The server-rendered data pages (/stops/<sloid>, /osm/<type>/<id>, /problems), /robots.txt,
canonical links, their translations and their fitness for the strict CSP."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import sqlalchemy as sa
from flask import Flask

from stopsync.blueprints.pages.stops import compare
from stopsync.extensions import db
from stopsync.models import AtlasPlatformRow, ProblemRow

from .api.conftest import GLARUS_NAME, GLARUS_NODE, GLARUS_SLOID, GLARUS_UIC
from .conftest import dispose, publish_sample

# An ATLAS platform without any OSM counterpart, added to the published sample (which has none).
LONELY_SLOID = "ch:1:sloid:99901:0:1"
LONELY_NAME = "Nirgendwo, Testkante"
LONELY_PROBLEM = "test-unmatched-atlas-99901"


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)])
def pages_app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, real_data: Path
) -> Iterator[Flask]:
    application = publish_sample(str(request.param), tmp_path_factory.mktemp("pages"), real_data)
    with application.app_context():
        db.session.execute(sa.insert(AtlasPlatformRow.__table__).values(
            sloid=LONELY_SLOID, number="8599901", designation="Z", name=LONELY_NAME, operator="TST",
            valid_to="9999-12-31", parent_sloid="ch:1:sloid:99901", lat=46.5, lon=7.5, matched=False))
        db.session.execute(sa.insert(ProblemRow.__table__).values(
            problem_key=LONELY_PROBLEM, type="unmatched_atlas", priority=1, sloid=LONELY_SLOID, osm_id=None,
            side="osm", side_reason="", evidence={}, fingerprint="", status="new"))
        db.session.commit()
    yield application
    dispose(application)


@pytest.fixture
def client(pages_app: Flask) -> Any:
    return pages_app.test_client()


def _page(client: Any, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, response.get_data(as_text=True)[:800]
    assert response.mimetype == "text/html"
    return unescape(response.get_data(as_text=True))


def _hrefs(html: str) -> list[str]:
    return re.findall(r'href="([^"]*)"', html)


def _problem_rows(html: str) -> list[str]:
    body = html.split('<table class="data-table problems-table">', 1)[1].split("</tbody>", 1)[0]
    return re.findall(r"<tr class=\"priority-\d\">(.*?)</tr>", body, re.S)


# -- one ATLAS platform ---------------------------------------------------------------------------

def test_linked_platform_page(client: Any) -> None:
    html = _page(client, f"/stops/{GLARUS_SLOID}")
    assert f"<h1>{GLARUS_NAME}" in html and GLARUS_UIC in html and "PAG" in html
    assert "ch:1:sloid:80266</code>" in html  # the parent service point
    hrefs = _hrefs(html)
    # Every link, nearest first, to the OSM element's page and to openstreetmap.org.
    assert f"/osm/{GLARUS_NODE}" in hrefs and f"https://www.openstreetmap.org/{GLARUS_NODE}" in hrefs
    linked = [href for href in hrefs if href.startswith("/osm/node/")]
    assert linked[0] == f"/osm/{GLARUS_NODE}" and len(set(linked)) == 4
    assert "UIC number and platform code" in html and "3.2 m" in html  # method label, distance
    # The map, centred on the platform and with it selected (the parameters map.js reads).
    map_link = next(href for href in hrefs if href.startswith("/?"))
    query = parse_qs(urlsplit(map_link).query)
    assert query["stop"] == [GLARUS_SLOID] and query["z"] == ["18"]
    assert abs(float(query["lat"][0]) - 47.0416) < 0.001 and abs(float(query["lon"][0]) - 9.0687) < 0.001
    assert any(href.startswith("https://atlas.app.sbb.ch/") and "8580266" in href for href in hrefs)
    assert any(href.startswith("https://www.openstreetmap.org/edit?editor=id#map=19/47.04") for href in hrefs)
    # Side by side, and the problems with their help pages.
    assert '<table class="data-table compare-table">' in html
    assert "/help/problems/distance" in hrefs and "2 – significant" in html  # noqa: RUF001


def test_differences_are_highlighted(client: Any, pages_app: Flask) -> None:
    with pages_app.app_context():
        sloid = db.session.execute(sa.select(ProblemRow.__table__.c.sloid)
                                   .where(ProblemRow.__table__.c.type == "attributes").limit(1)).scalar_one()
    html = _page(client, f"/stops/{sloid}")
    assert '<tr class="is-different">' in html and "(differs)" in html
    assert "/help/problems/attributes" in _hrefs(html)


def test_compare_follows_the_map_rule(pages_app: Flask) -> None:
    atlas = {"name": "Glarus, Stampf", "number": "8580266", "designation": "A", "operator": "PAG",
             "lat": 47.0, "lon": 9.0}
    osm = {"name": "Stampf", "uic_ref": "8580266", "local_ref": "B", "lat": 47.0001, "lon": 9.0,
           "tags": {"uic_name": "glarus, stampf ", "operator": ""}}
    with pages_app.test_request_context():
        rows = {row.label: row for row in compare(atlas, osm)}
    assert not rows["Name"].differs  # uic_name wins over name; case and spaces do not count
    assert not rows["UIC number"].differs
    assert rows["Platform code"].differs
    assert not rows["Operator"].differs and rows["Operator"].osm == ""  # a blank side never differs
    assert rows["Coordinates"].atlas == "47.000000, 9.000000"


def test_unmatched_platform_page(client: Any) -> None:
    html = _page(client, f"/stops/{LONELY_SLOID}")
    assert LONELY_NAME in html and "Not linked to any OSM element." in html
    assert "stop-state-unmatched" in html and "compare-table" not in html
    assert "/help/problems/unmatched_atlas" in _hrefs(html)
    assert "ATLAS platform without OSM counterpart" in html and "1 – critical" in html  # noqa: RUF001


# -- one OSM element ------------------------------------------------------------------------------

def test_osm_element_page(client: Any) -> None:
    html = _page(client, f"/osm/{GLARUS_NODE}")
    hrefs = _hrefs(html)
    assert f"/stops/{GLARUS_SLOID}" in hrefs
    assert f"https://www.openstreetmap.org/{GLARUS_NODE}" in hrefs
    assert "https://www.openstreetmap.org/edit?editor=id&node=34674546" in hrefs
    assert '<table class="data-table compare-table">' in html and GLARUS_NAME in html
    assert "<code>uic_ref</code>" in html  # the element's tags
    map_link = next(href for href in hrefs if href.startswith("/?"))
    assert parse_qs(urlsplit(map_link).query)["stop"] == [GLARUS_NODE]


def test_unmatched_osm_element_page(client: Any, pages_app: Flask) -> None:
    with pages_app.app_context():
        osm_id = db.session.execute(sa.select(ProblemRow.__table__.c.osm_id)
                                    .where(ProblemRow.__table__.c.type == "unmatched_osm").limit(1)).scalar_one()
    html = _page(client, f"/osm/{osm_id}")
    assert "Not linked to any ATLAS platform." in html and "/help/problems/unmatched_osm" in _hrefs(html)


@pytest.mark.parametrize("url", [
    "/stops/ch:1:sloid:99999:0:1",  # well-formed, not published
    "/stops/not-a-sloid",
    "/stops/ch:1:sloid:80266:0:16213%00",
    "/osm/node/999999999999",  # well-formed, not published
    "/osm/node/0",
    "/osm/node/abc",
    "/osm/node/99999999999999999999",  # beyond 64 bits
    "/osm/area/1",
    "/osm/node/34674546/extra",
])
def test_unknown_or_malformed_ids_are_html_404(client: Any, url: str) -> None:
    html = _page(client, url, status=404)
    assert 'class="error-page"' in html


# -- the problems list ----------------------------------------------------------------------------

def test_problems_list_matches_the_api_page_by_page(client: Any) -> None:
    api = client.get("/api/v1/problems?limit=5").json
    html = _page(client, "/problems?limit=5")
    rows = _problem_rows(html)
    assert len(rows) == 5
    for row, problem in zip(rows, api["problems"], strict=True):
        assert f"/help/problems/{problem['type']}" in row
        for stop_id in (problem["sloid"], problem["osm_id"]):
            if stop_id:
                assert f"/stops/{stop_id}" in row or f"/osm/{stop_id}" in row
    next_link = re.search(r'<a href="([^"]+)" rel="next">', html)
    assert next_link and parse_qs(urlsplit(next_link.group(1)).query)["cursor"] == [api["next_cursor"]]
    second = _page(client, next_link.group(1))
    api_second = client.get(f"/api/v1/problems?limit=5&cursor={api['next_cursor']}").json
    assert [f"/help/problems/{p['type']}" in row for row, p in
            zip(_problem_rows(second), api_second["problems"], strict=True)] == [True] * 5
    assert "First page" in second


def test_problems_list_filters_and_last_page(client: Any) -> None:
    html = _page(client, "/problems?type=distance&priority=1&sort=distance")
    rows = _problem_rows(html)
    assert rows and all("/help/problems/distance" in row and "1 – critical" in row for row in rows)  # noqa: RUF001
    assert 'rel="next"' not in html  # everything fits on one page
    assert '<option value="distance" selected>' in html
    none = _page(client, "/problems?status=decided")
    assert "No problems match these filters." in none


def test_problems_form_sends_empty_fields_and_repeated_values(client: Any) -> None:
    everything = _problem_rows(_page(client, "/problems?type=&priority=&status=&operator=&sort=priority&limit=1000"))
    assert len(everything) == 85  # the sample's 84 and the added one
    both = _problem_rows(_page(client, "/problems?type=distance&type=unmatched_atlas&limit=1000"))
    assert {re.search(r"/help/problems/(\w+)", row).group(1) for row in both} == {"distance", "unmatched_atlas"}  # type: ignore[union-attr]


@pytest.mark.parametrize("query", ["priority=9", "foo=1", "cursor=garbage", "sort=name", "limit=0",
                                   "bbox=1,2,3", "updated_since=yesterday", "operator=a%00b"])
def test_problems_list_bad_parameter_is_html_400(client: Any, query: str) -> None:
    html = _page(client, f"/problems?{query}", status=400)
    assert 'class="error-page"' in html and "bad_request" in html


def test_problems_list_ignores_language_and_tracking_parameters(client: Any) -> None:
    html = _page(client, "/problems?lang=fr&utm_source=newsletter&fbclid=abc")
    assert "<h1>Problèmes</h1>" in html


# -- SEO --------------------------------------------------------------------------------------------

def test_robots_txt(client: Any) -> None:
    response = client.get("/robots.txt")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    lines = response.get_data(as_text=True).splitlines()
    assert "User-agent: *" in lines and "Disallow: /api/" in lines and "Allow: /" in lines


@pytest.mark.parametrize(("url", "canonical"), [
    ("/?lat=47.1&lon=8.5&z=12&stop=node/1&lang=de", "http://localhost/"),
    (f"/stops/{GLARUS_SLOID}?lang=fr&utm_source=x", f"http://localhost/stops/{GLARUS_SLOID}"),
    (f"/osm/{GLARUS_NODE}?gclid=1", f"http://localhost/osm/{GLARUS_NODE}"),
    ("/problems?type=distance&lang=it&utm_campaign=y&sort=type",
     "http://localhost/problems?" + urlencode({"type": "distance", "sort": "type"})),
    ("/help/problems/distance?lang=de", "http://localhost/help/problems/distance"),
    ("/status", "http://localhost/status"),
])
def test_every_page_has_one_canonical_link(client: Any, url: str, canonical: str) -> None:
    html = _page(client, url)
    links = re.findall(r'<link rel="canonical" href="([^"]+)">', html)
    assert links == [canonical]


def test_api_stays_out_of_search_engines(client: Any) -> None:
    assert client.get("/api/v1/problems?limit=1").headers["X-Robots-Tag"] == "noindex"
    assert "X-Robots-Tag" not in client.get("/problems").headers


def test_navbar_links_to_the_problems_list(client: Any) -> None:
    assert 'href="/problems"' in _page(client, "/help/problems")


# -- languages and CSP ------------------------------------------------------------------------------

PAGES = ["/", f"/stops/{GLARUS_SLOID}", f"/stops/{LONELY_SLOID}", f"/osm/{GLARUS_NODE}", "/problems",
         "/help/problems", "/help/problems/distance", "/status", "/api/v1/docs", "/stops/nope"]

# One heading per page and language (en: the source text).
HEADINGS: dict[str, dict[str, str]] = {
    f"/stops/{GLARUS_SLOID}": {"en": "Attributes", "de": "Merkmale", "fr": "Attributs", "it": "Attributi"},
    f"/osm/{GLARUS_NODE}": {"en": "Links", "de": "Verknüpfungen", "fr": "Liens", "it": "Collegamenti"},
    "/problems": {"en": "Problems", "de": "Probleme", "fr": "Problèmes", "it": "Problemi"},
    "/help/problems/distance": {"en": "Linked platforms far apart", "de": "Verknüpfte Haltekanten weit auseinander",
                                "fr": "Quais reliés éloignés", "it": "Marciapiedi collegati distanti"},
    "/status": {"en": "Published data", "de": "Veröffentlichte Daten", "fr": "Données publiées",
                "it": "Dati pubblicati"},
    "/api/v1/docs": {"en": "Schemas", "de": "Schemas", "fr": "Schémas", "it": "Schemi"},
}
# Long texts that must be translated too: the help page's explanation, the list's introduction.
LONG_TEXTS: dict[str, dict[str, str]] = {
    "/help/problems/distance": {
        "de": "Luftbilder entscheiden.", "fr": "Les images aériennes tranchent.",
        "it": "Decidono le immagini aeree."},
    "/problems": {"de": "Jede Zeile führt zur Haltestelle", "fr": "Chaque ligne mène à l’arrêt",  # noqa: RUF001
                  "it": "Ogni riga porta alla fermata"},
    f"/stops/{LONELY_SLOID}": {"de": "Mit keinem OSM-Element verknüpft.", "fr": "Relié à aucun élément OSM.",
                               "it": "Non collegato ad alcun elemento OSM."},
}


@pytest.mark.parametrize("language", ["en", "de", "fr", "it"])
@pytest.mark.parametrize("url", sorted(HEADINGS))
def test_pages_are_translated(client: Any, url: str, language: str) -> None:
    client.get(f"/?lang={language}")  # remembered in the session (the API docs take no parameters)
    html = _page(client, url)
    headings = [re.sub(r"<[^>]+>", "", h).strip() for h in re.findall(r"<h[12][^>]*>(.*?)</h[12]>", html, re.S)]
    assert HEADINGS[url][language] in headings
    if url in LONG_TEXTS and language != "en":
        assert LONG_TEXTS[url][language] in html
        assert "Aerial imagery decides" not in html and "Each row leads to the stop" not in html


def test_help_texts_fill_in_who_fixes(client: Any) -> None:
    html = _page(client, "/help/problems/unmatched_atlas?lang=it")
    assert "i mappatori OSM, in iD o JOSM" in html and "{osm_edit}" not in html
    assert "i responsabili dei dati ATLAS" in html


@pytest.mark.parametrize("url", PAGES)
def test_no_inline_script_style_or_handlers(client: Any, url: str) -> None:
    response = client.get(url)
    html = response.get_data(as_text=True)
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    assert "<style" not in html and not re.search(r"\sstyle=", html)
    assert not re.search(r"\son[a-z]+=", html)
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]


def test_api_docs_name_no_canonical_url(client: Any) -> None:
    # Not indexed at all (robots.txt disallows /api/), so there is no canonical URL to name.
    html = _page(client, "/api/v1/docs")
    assert 'rel="canonical"' not in html and '<meta name="robots" content="noindex">' in html


def test_api_docs_take_the_language_switch_and_nothing_else(client: Any) -> None:
    # The docs page's language links add ?lang=; any other parameter is refused like on every API route.
    assert "Schemi" in _page(client, "/api/v1/docs?lang=it")
    refused = client.get("/api/v1/docs?foo=1")
    assert refused.status_code == 400
    assert refused.get_json()["details"]["parameter"] == "foo"
