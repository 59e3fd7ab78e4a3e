"""Static assets: no CDN, no inline script, and a vendored tree that matches VERSIONS.json.

The strict CSP (``script-src 'self'``) would silently break inline code in the browser, and a
CDN reference would break the page offline; these tests catch both before a browser does.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DIR = REPO_ROOT / "stopsync"
TEMPLATES_DIR = PACKAGE_DIR / "templates"
STATIC_DIR = PACKAGE_DIR / "static"
VENDOR_DIR = STATIC_DIR / "vendor"

CDN_PATTERN = re.compile(r"cdn\.|unpkg\.com|cdnjs|jsdelivr|code\.jquery|googleapis", re.IGNORECASE)
SCRIPT_ELEMENT = re.compile(r"<script\b(?P<attrs>[^>]*)>(?P<body>.*?)</script\s*>", re.I | re.S)
TAG = re.compile(r"<[a-zA-Z][^>]*>", re.S)
EVENT_HANDLER_ATTR = re.compile(r"\son[a-z]+\s*=", re.I)
STYLE_ATTR = re.compile(r"\sstyle\s*=", re.I)
JAVASCRIPT_URL = re.compile(r"""(?:href|src|action)\s*=\s*["']?\s*javascript:""", re.I)
STATIC_URL_FOR = re.compile(r"""url_for\(\s*['"]static['"]\s*,\s*filename\s*=\s*['"]([^'"]+)['"]""")


def _load_sync_vendor() -> ModuleType:
    path = REPO_ROOT / "scripts" / "sync_vendor.py"
    spec = importlib.util.spec_from_file_location("sync_vendor", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


sync_vendor = _load_sync_vendor()


def _own_asset_files() -> list[Path]:
    """Templates and static files we wrote ourselves (vendored libraries excluded)."""
    files = [path for path in TEMPLATES_DIR.rglob("*") if path.is_file()]
    files += [path for path in STATIC_DIR.rglob("*") if path.is_file() and VENDOR_DIR not in path.parents]
    return sorted(files)


def _templates() -> list[Path]:
    return sorted(TEMPLATES_DIR.rglob("*.html"))


def _relative(path: Path) -> str:
    return path.relative_to(REPO_ROOT).as_posix()


# --- detectors, shared by the real checks and their self-tests ---------------------------


def cdn_references(text: str) -> list[str]:
    return [match.group(0) for match in CDN_PATTERN.finditer(text)]


def inline_script_problems(html: str) -> list[str]:
    problems = []
    for match in SCRIPT_ELEMENT.finditer(html):
        if match.group("body").strip():
            problems.append("inline <script> with content")
        elif "src=" not in match.group("attrs").replace(" ", ""):
            problems.append("<script> without src")
    for tag in TAG.findall(html):
        if EVENT_HANDLER_ATTR.search(tag):
            problems.append(f"event handler attribute in {tag[:60]!r}")
        if STYLE_ATTR.search(tag):
            problems.append(f"inline style attribute in {tag[:60]!r}")
    if JAVASCRIPT_URL.search(html):
        problems.append("javascript: URL")
    return problems


@pytest.mark.parametrize(
    "text",
    [
        '<script src="https://cdn.example.org/x.js"></script>',
        '<link href="https://unpkg.com/leaflet@1.9.4/dist/leaflet.css">',
        "https://cdnjs.cloudflare.com/ajax/libs/leaflet/1.9.4/leaflet.js",
        "https://cdn.jsdelivr.net/npm/leaflet",
        "https://code.jquery.com/jquery.min.js",
        "@import url(https://fonts.googleapis.com/css?family=Roboto);",
    ],
)
def test_cdn_detector_flags_cdn_hosts(text: str) -> None:
    assert cdn_references(text)


@pytest.mark.parametrize(
    "html",
    [
        "<script>alert(1)</script>",
        '<script type="module">\n  import "./x.js";\n</script>',
        "<script></script>",
        '<button onclick="go()">Go</button>',
        "<body\n  onload='init()'>",
        '<div style="height: 100%">',
        '<a href="javascript:void(0)">x</a>',
    ],
)
def test_inline_script_detector_flags_inline_code(html: str) -> None:
    assert inline_script_problems(html)


def test_inline_script_detector_accepts_external_scripts() -> None:
    html = (
        "<script src=\"{{ url_for('static', filename='js/map.js') }}\"></script>"
        '<div id="map" data-online="yes" class="one"></div>'
    )
    assert inline_script_problems(html) == []


# --- the real checks ----------------------------------------------------------------------


def test_there_are_assets_to_check() -> None:
    names = {_relative(path) for path in _own_asset_files()}
    assert "stopsync/templates/base.html" in names
    assert "stopsync/static/js/map.js" in names
    assert "stopsync/static/css/app.css" in names


@pytest.mark.parametrize("path", _own_asset_files(), ids=_relative)
def test_no_cdn_references(path: Path) -> None:
    text = path.read_text(encoding="utf-8", errors="replace")
    assert cdn_references(text) == [], f"{_relative(path)} references a CDN"


@pytest.mark.parametrize("path", _templates(), ids=_relative)
def test_templates_have_no_inline_script_or_handlers(path: Path) -> None:
    assert inline_script_problems(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("path", _templates(), ids=_relative)
def test_static_references_exist(path: Path) -> None:
    for filename in STATIC_URL_FOR.findall(path.read_text(encoding="utf-8")):
        assert (STATIC_DIR / filename).is_file(), f"{_relative(path)}: static/{filename} missing"


def test_map_script_never_writes_html() -> None:
    """Names in the data are untrusted: popups must be built with textContent."""
    source = (STATIC_DIR / "js" / "map.js").read_text(encoding="utf-8")
    assert not re.search(r"\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write", source)


# --- vendored libraries -------------------------------------------------------------------


def test_vendored_tree_matches_versions_json() -> None:
    problems = sync_vendor.check(VENDOR_DIR, REPO_ROOT / "node_modules")
    assert problems == []


def test_versions_json_pins_the_package_json_versions() -> None:
    package_json = json.loads((REPO_ROOT / "package.json").read_text(encoding="utf-8"))
    recorded = json.loads((VENDOR_DIR / "VERSIONS.json").read_text(encoding="utf-8"))
    assert package_json["private"] is True
    assert {name: entry["version"] for name, entry in recorded.items()} == package_json["dependencies"]


def test_vendored_tree_has_the_files_the_pages_need() -> None:
    recorded = json.loads((VENDOR_DIR / "VERSIONS.json").read_text(encoding="utf-8"))
    assert {"leaflet.js", "leaflet.css", "LICENSE", "images/marker-icon.png"} <= set(recorded["leaflet"]["files"])
    assert set(recorded["swiss-maps"]["files"]) == {"2025/ch-combined.json", "LICENSE"}


@pytest.fixture()
def vendor_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "vendor"
    shutil.copytree(VENDOR_DIR, copy)
    return copy


def test_check_detects_an_edited_file(vendor_copy: Path) -> None:
    target = vendor_copy / "leaflet" / "leaflet.css"
    target.write_text(target.read_text(encoding="utf-8") + "\n/* local edit */\n")
    assert sync_vendor.check(vendor_copy) == ["leaflet/leaflet.css: content differs from recorded hash"]


def test_check_detects_missing_and_extra_files(vendor_copy: Path) -> None:
    (vendor_copy / "swiss-maps" / "LICENSE").unlink()
    (vendor_copy / "leaflet" / "leaflet-src.js").write_text("// not recorded\n")
    (vendor_copy / "jquery").mkdir()
    problems = sync_vendor.check(vendor_copy)
    assert "swiss-maps/LICENSE: recorded but missing" in problems
    assert "leaflet/leaflet-src.js: present but not recorded" in problems
    assert "unexpected vendored folder jquery/" in problems


def test_check_reports_missing_versions_json(tmp_path: Path) -> None:
    assert sync_vendor.check(tmp_path) != []


def _fake_node_modules(root: Path, leaflet_version: str) -> Path:
    node_modules = root / "node_modules"
    files = {
        "leaflet/package.json": json.dumps({"version": leaflet_version}),
        "leaflet/LICENSE": "BSD",
        "leaflet/dist/leaflet.js": "/* leaflet */",
        "leaflet/dist/leaflet-src.js": "/* not vendored */",
        "leaflet/dist/leaflet.css": ".leaflet-container {}",
        "leaflet/dist/images/layers.png": "png",
        "swiss-maps/package.json": json.dumps({"version": "4.7.0"}),
        "swiss-maps/LICENSE": "BSD-3",
        "swiss-maps/2025/ch-combined.json": '{"type": "Topology"}',
        "swiss-maps/2025/cantons.shp": "not vendored",
    }
    for relative, content in files.items():
        path = node_modules / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return node_modules


def test_sync_copies_exactly_the_listed_files_and_check_passes(tmp_path: Path) -> None:
    node_modules = _fake_node_modules(tmp_path, "1.9.4")
    vendor = tmp_path / "vendor"
    (vendor / "leaflet").mkdir(parents=True)
    (vendor / "leaflet" / "stale.js").write_text("left over from an older version")

    assert sync_vendor.main(["--node-modules", str(node_modules), "--vendor-dir", str(vendor)]) == 0

    copied = sorted(p.relative_to(vendor).as_posix() for p in vendor.rglob("*") if p.is_file())
    assert copied == [
        "VERSIONS.json",
        "leaflet/LICENSE",
        "leaflet/images/layers.png",
        "leaflet/leaflet.css",
        "leaflet/leaflet.js",
        "swiss-maps/2025/ch-combined.json",
        "swiss-maps/LICENSE",
    ]
    versions = json.loads((vendor / "VERSIONS.json").read_text())
    assert versions["leaflet"]["version"] == "1.9.4"
    assert sync_vendor.check(vendor, node_modules) == []
    assert sync_vendor.main(["--check", "--node-modules", str(node_modules), "--vendor-dir", str(vendor)]) == 0


def test_check_fails_when_node_modules_was_upgraded_without_sync(tmp_path: Path) -> None:
    node_modules = _fake_node_modules(tmp_path, "1.9.4")
    vendor = tmp_path / "vendor"
    sync_vendor.sync(node_modules, vendor)
    (node_modules / "leaflet" / "package.json").write_text(json.dumps({"version": "1.9.5"}))

    problems = sync_vendor.check(vendor, node_modules)
    assert len(problems) == 1 and problems[0].startswith("leaflet: VERSIONS.json does not match")
    assert sync_vendor.main(["--check", "--node-modules", str(node_modules), "--vendor-dir", str(vendor)]) == 1


def test_sync_fails_clearly_without_node_modules(tmp_path: Path) -> None:
    code = sync_vendor.main(["--node-modules", str(tmp_path / "missing"), "--vendor-dir", str(tmp_path / "v")])
    assert code == 2
    assert not (tmp_path / "v").exists()
