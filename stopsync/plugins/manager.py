"""Builds one pluggy ``PluginManager`` per application and the registries derived from it."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pluggy

from .. import __version__
from ..errors import ConfigurationError, PluginError
from . import hookspecs
from .base import SOURCE_KINDS, DataSource, MatchingStrategy

log = logging.getLogger(__name__)

# Built-in plugins: (name shown by `plugins list` and used by DISABLED_PLUGINS, module).
BUILTIN_PLUGINS: tuple[tuple[str, str], ...] = (
    ("builtin-sources", "stopsync.plugins.builtin.sources"),
    ("builtin-overpass", "stopsync.plugins.builtin.overpass"),
    ("builtin-gtfs", "stopsync.plugins.builtin.gtfs_source"),
    ("builtin-exact-reference", "stopsync.plugins.builtin.exact_reference"),
    ("builtin-manual-links", "stopsync.plugins.builtin.manual_links"),
    ("builtin-reference-stages", "stopsync.plugins.builtin.reference_stages"),
    ("builtin-name-stages", "stopsync.plugins.builtin.name_stages"),
    ("builtin-route-stage", "stopsync.plugins.builtin.route_stage"),
    ("builtin-distance-stages", "stopsync.plugins.builtin.distance_stages"),
)

EXTENSION_KEY = "stopsync"


@dataclass
class PluginInfo:
    name: str
    version: str
    hooks: list[str]
    builtin: bool
    distribution: str = ""


@dataclass
class Plugins:
    """What ``app.extensions["stopsync"]`` holds: the manager and what plugins registered."""

    manager: pluggy.PluginManager
    data_sources: dict[str, type[DataSource]] = field(default_factory=dict)
    strategies: dict[str, type[MatchingStrategy]] = field(default_factory=dict)
    builtin_names: set[str] = field(default_factory=set)

    @property
    def hook(self) -> Any:
        return self.manager.hook

    def infos(self) -> list[PluginInfo]:
        dists = {id(plugin): dist for plugin, dist in self.manager.list_plugin_distinfo()}
        infos = []
        for name, plugin in self.manager.list_name_plugin():
            if plugin is None:  # blocked
                continue
            dist = dists.get(id(plugin))
            hooks = sorted(h.name for h in self.manager.get_hookcallers(plugin) or [])
            infos.append(
                PluginInfo(
                    name=name,
                    version=dist.version if dist else __version__,
                    hooks=hooks,
                    builtin=name in self.builtin_names,
                    distribution=dist.project_name if dist else "stopsync",
                )
            )
        return sorted(infos, key=lambda info: (not info.builtin, info.name))

    def strategy_order(self, configured: Iterable[str] | None) -> list[type[MatchingStrategy]]:
        """The strategy classes to run, in order: as configured, or else every built-in one by
        ``order`` then name. A third-party strategy runs only when configured by name, so that
        installing a plugin never silently changes the links."""
        if configured is None:
            builtin = [cls for cls in self.strategies.values() if _is_builtin(cls)]
            return sorted(builtin, key=lambda cls: (_order(cls), cls.name))
        chosen = []
        for name in configured:
            if name not in self.strategies:
                known = ", ".join(sorted(self.strategies)) or "none"
                raise ConfigurationError(
                    f"MATCHING_STRATEGIES names unknown strategy {name!r} (registered: {known})"
                )
            chosen.append(self.strategies[name])
        return chosen

    def strategies_for(
        self, configured: Iterable[str] | None, profile: Mapping[str, Any]
    ) -> list[MatchingStrategy]:
        return [cls(profile) for cls in self.strategy_order(configured)]

    def source(self, name: str, config: Mapping[str, Any], kind: str) -> DataSource:
        cls = self.data_sources.get(name)
        if cls is None:
            known = ", ".join(sorted(self.data_sources)) or "none"
            raise ConfigurationError(f"unknown data source plugin {name!r} (registered: {known})")
        if cls.kind != kind:
            raise ConfigurationError(f"data source {name!r} provides {cls.kind!r}, not {kind!r}")
        return cls(config)


def _is_builtin(cls: type) -> bool:
    return cls.__module__.startswith("stopsync.")


def _order(cls: type[MatchingStrategy]) -> int:
    return int(getattr(cls, "order", 500))


def build_plugins(config: Mapping[str, Any]) -> Plugins:
    """Add hookspecs, register built-ins, block disabled plugins, load entry points, check."""
    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    disabled = set(config.get("DISABLED_PLUGINS") or [])
    for name in disabled:
        manager.set_blocked(name)
    plugins = Plugins(manager=manager)
    for name, module_name in BUILTIN_PLUGINS:
        plugins.builtin_names.add(name)
        if name not in disabled:
            manager.register(importlib.import_module(module_name), name=name)
    for module_name in config.get("PLUGINS") or []:
        if module_name in disabled:
            continue
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise PluginError(f"PLUGINS names {module_name!r}, which cannot be imported: {exc}") from exc
        manager.register(module, name=module_name)
    if not config.get("SAFE_MODE"):
        try:
            manager.load_setuptools_entrypoints(hookspecs.ENTRY_POINT_GROUP)
        except Exception as exc:  # a broken third-party plugin must name itself
            raise PluginError(f"loading plugins from entry points failed: {exc}") from exc
    try:
        manager.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"plugin {exc.plugin!r} implements an unknown hook: {exc}") from exc
    plugins.data_sources = _collect(
        manager.hook.stopsync_register_data_sources(), DataSource, "data source"
    )
    for cls in plugins.data_sources.values():
        if cls.kind not in SOURCE_KINDS:
            raise PluginError(f"data source {cls.name!r} has unknown kind {cls.kind!r}")
    plugins.strategies = _collect(
        manager.hook.stopsync_register_matching_strategies(), MatchingStrategy, "matching strategy"
    )
    return plugins


def _collect(results: Iterable[Iterable[Any] | None], base: type, what: str) -> dict[str, Any]:
    registry: dict[str, Any] = {}
    for classes in results:
        for cls in classes or []:
            if not (isinstance(cls, type) and issubclass(cls, base)):
                raise PluginError(f"a plugin registered {cls!r} as a {what}, not a {base.__name__}")
            name = getattr(cls, "name", None)
            if not name:
                raise PluginError(f"{what} {cls.__qualname__} has no name")
            if name in registry:
                raise PluginError(
                    f"duplicate {what} name {name!r}: {registry[name].__module__}."
                    f"{registry[name].__qualname__} and {cls.__module__}.{cls.__qualname__}"
                )
            registry[name] = cls
    return registry
