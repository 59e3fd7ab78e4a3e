#!/usr/bin/env python3
"""Copy the front-end libraries stopsync serves from ``node_modules/`` into
``stopsync/static/vendor/`` and record what was copied.

Run after ``npm ci``::

    python scripts/sync_vendor.py           # copy files, write VERSIONS.json
    python scripts/sync_vendor.py --check   # exit 1 if the vendored tree is stale

The vendored files are committed, so the application never needs node at run time.
``--check`` compares the vendored tree with ``VERSIONS.json`` (always) and with
``node_modules/`` (when it is installed), so CI catches both hand edits and forgotten syncs.
Standard library only.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
VERSIONS_FILE_NAME = "VERSIONS.json"


@dataclass(frozen=True)
class VendoredFile:
    """One file taken from a package: where it lives in the package, where it goes."""

    source: str
    target: str


@dataclass(frozen=True)
class VendoredPackage:
    """A package and the files of it that the web pages need.

    ``glob_sources`` are directories whose every file is copied (flat, same name).
    """

    name: str
    files: tuple[VendoredFile, ...]
    glob_sources: tuple[VendoredFile, ...] = ()


# Leaflet's ``dist/`` prefix is dropped: leaflet.css refers to ``images/...`` relative to
# itself, which stays true, and a ``dist/`` folder would clash with the repo's .gitignore.
PACKAGES: tuple[VendoredPackage, ...] = (
    VendoredPackage(
        name="leaflet",
        files=(
            VendoredFile("dist/leaflet.js", "leaflet.js"),
            VendoredFile("dist/leaflet.css", "leaflet.css"),
            VendoredFile("LICENSE", "LICENSE"),
        ),
        glob_sources=(VendoredFile("dist/images", "images"),),
    ),
    VendoredPackage(
        name="swiss-maps",
        files=(
            VendoredFile("2025/ch-combined.json", "2025/ch-combined.json"),
            VendoredFile("LICENSE", "LICENSE"),
        ),
    ),
)


class VendorError(Exception):
    """node_modules is missing something the vendored tree needs."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(65536), b""):
            digest.update(block)
    return digest.hexdigest()


def package_version(node_modules: Path, package: str) -> str:
    manifest = node_modules / package / "package.json"
    if not manifest.is_file():
        raise VendorError(f"{manifest} not found; run `npm ci` first")
    version = json.loads(manifest.read_text(encoding="utf-8")).get("version")
    if not isinstance(version, str):
        raise VendorError(f"{manifest} has no version")
    return version


def resolve_files(node_modules: Path, package: VendoredPackage) -> list[VendoredFile]:
    """Expand directory entries into individual files, sorted by target path."""
    package_dir = node_modules / package.name
    resolved = list(package.files)
    for entry in package.glob_sources:
        source_dir = package_dir / entry.source
        if not source_dir.is_dir():
            raise VendorError(f"{source_dir} not found")
        for child in sorted(source_dir.iterdir()):
            if child.is_file():
                resolved.append(VendoredFile(f"{entry.source}/{child.name}", f"{entry.target}/{child.name}"))
    for item in resolved:
        if not (package_dir / item.source).is_file():
            raise VendorError(f"{package_dir / item.source} not found")
    return sorted(resolved, key=lambda item: item.target)


def expected_manifest(node_modules: Path) -> dict[str, dict[str, object]]:
    """What VERSIONS.json must say for the packages installed in node_modules."""
    manifest: dict[str, dict[str, object]] = {}
    for package in PACKAGES:
        files = resolve_files(node_modules, package)
        manifest[package.name] = {
            "version": package_version(node_modules, package.name),
            "files": {item.target: sha256_of(node_modules / package.name / item.source) for item in files},
        }
    return manifest


def sync(node_modules: Path, vendor_dir: Path) -> dict[str, dict[str, object]]:
    """Replace each package's vendored folder with fresh copies; write VERSIONS.json."""
    manifest = expected_manifest(node_modules)
    vendor_dir.mkdir(parents=True, exist_ok=True)
    for package in PACKAGES:
        package_target = vendor_dir / package.name
        # Start from an empty folder so files dropped upstream do not linger.
        if package_target.exists():
            shutil.rmtree(package_target)
        for item in resolve_files(node_modules, package):
            destination = package_target / item.target
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(node_modules / package.name / item.source, destination)
    (vendor_dir / VERSIONS_FILE_NAME).write_text(
        json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    return manifest


def _files_on_disk(directory: Path) -> Iterable[str]:
    return (path.relative_to(directory).as_posix() for path in sorted(directory.rglob("*")) if path.is_file())


def check(vendor_dir: Path, node_modules: Path | None = None) -> list[str]:
    """Return every difference between the vendored tree and VERSIONS.json, and, when
    ``node_modules`` is given and installed, between VERSIONS.json and node_modules.
    An empty list means the tree is in sync."""
    problems: list[str] = []
    versions_path = vendor_dir / VERSIONS_FILE_NAME
    if not versions_path.is_file():
        return [f"{versions_path} is missing; run scripts/sync_vendor.py"]
    recorded = json.loads(versions_path.read_text(encoding="utf-8"))
    if not isinstance(recorded, dict):
        return [f"{versions_path} is not a JSON object"]

    expected_names = {package.name for package in PACKAGES}
    if set(recorded) != expected_names:
        problems.append(f"{VERSIONS_FILE_NAME} lists {sorted(recorded)}, expected {sorted(expected_names)}")
    on_disk_packages = {path.name for path in vendor_dir.iterdir() if path.is_dir()}
    for stray in sorted(on_disk_packages - expected_names):
        problems.append(f"unexpected vendored folder {stray}/")

    for name in sorted(expected_names & set(recorded)):
        entry = recorded[name]
        files = entry.get("files") if isinstance(entry, dict) else None
        if not isinstance(files, dict) or not files:
            problems.append(f"{name}: no files recorded")
            continue
        package_dir = vendor_dir / name
        present = set(_files_on_disk(package_dir)) if package_dir.is_dir() else set()
        for relative in sorted(set(files) - present):
            problems.append(f"{name}/{relative}: recorded but missing")
        for relative in sorted(present - set(files)):
            problems.append(f"{name}/{relative}: present but not recorded")
        for relative in sorted(set(files) & present):
            if sha256_of(package_dir / relative) != files[relative]:
                problems.append(f"{name}/{relative}: content differs from recorded hash")

    if node_modules is not None and node_modules.is_dir():
        try:
            installed = expected_manifest(node_modules)
        except VendorError as error:
            problems.append(str(error))
        else:
            for name in sorted(installed):
                if installed[name] != recorded.get(name):
                    problems.append(
                        f"{name}: VERSIONS.json does not match node_modules "
                        f"(installed {installed[name]['version']}); run scripts/sync_vendor.py"
                    )
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--check",
        action="store_true",
        help="do not copy; exit 1 when the vendored tree differs from VERSIONS.json/node_modules",
    )
    parser.add_argument("--node-modules", type=Path, default=REPO_ROOT / "node_modules")
    parser.add_argument("--vendor-dir", type=Path, default=REPO_ROOT / "stopsync" / "static" / "vendor")
    args = parser.parse_args(argv)

    if args.check:
        problems = check(args.vendor_dir, args.node_modules)
        for problem in problems:
            print(f"vendor out of sync: {problem}", file=sys.stderr)
        if not problems:
            print("vendored tree matches VERSIONS.json")
        return 1 if problems else 0

    try:
        manifest = sync(args.node_modules, args.vendor_dir)
    except VendorError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for name, entry in manifest.items():
        files = entry["files"]
        count = len(files) if isinstance(files, dict) else 0
        print(f"vendored {name} {entry['version']} ({count} files)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
