"""The contracts that plugins implement: data sources and matching strategies.

A plugin returns *classes* from the registration hooks; the application instantiates them with
its configuration. Every class carries a unique ``name``; duplicates fail at start-up.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from ..pipeline.engine import MatchEngine

# The kinds of input a data source can provide.
SOURCE_KINDS = ("atlas", "osm", "gtfs", "border")


@dataclass
class SourceResult:
    """What a data source returns: normalised records plus statistics about reading them."""

    records: Any
    stats: dict[str, Any] = field(default_factory=dict)
    # Secondary record sets of the same input, by name (e.g. OSM "routes").
    related: dict[str, Any] = field(default_factory=dict)


class DataSource(abc.ABC):
    """Turns a local input file into normalised records.

    ``fetch`` (download a remote location into the cache) has a generic default in the
    acquisition stage; a source overrides :meth:`fetch` when a location is not a plain URL
    (for example an Overpass query built from the region).
    """

    name: ClassVar[str]
    kind: ClassVar[str]
    description: ClassVar[str] = ""

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        self.config: Mapping[str, Any] = dict(config or {})

    @abc.abstractmethod
    def read(self, path: Path) -> SourceResult:
        """Parse the local file at ``path``; raise ``InputError`` on bad input."""

    def fetch(self, location: str, cache_dir: Path) -> Path | None:
        """Acquire ``location`` into ``cache_dir`` and return the file, or ``None`` to use
        the generic downloader."""
        return None


class MatchingStrategy(abc.ABC):
    """One matching stage. It sees the engine (both sides, what is still unmatched) and
    commits links through :meth:`MatchEngine.link`."""

    name: ClassVar[str]
    description: ClassVar[str] = ""

    def __init__(self, profile: Mapping[str, Any] | None = None) -> None:
        self.profile: Mapping[str, Any] = dict(profile or {})

    @abc.abstractmethod
    def run(self, engine: MatchEngine) -> None:
        """Link what this stage can link among the still-unmatched records."""
