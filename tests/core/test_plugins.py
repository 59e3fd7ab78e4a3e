"""The plugin system: hooks, registration, entry points, blocking, duplicates, docs."""

from __future__ import annotations

import inspect
import re
import sys
import types
from pathlib import Path

import pytest

from stopsync import create_app, hookimpl
from stopsync.errors import ConfigurationError, PluginError
from stopsync.plugins import hookspecs
from stopsync.plugins.base import MatchingStrategy
from stopsync.plugins.manager import EXTENSION_KEY

from ..conftest import REPO, base_config

HOOKS = sorted(name for name in dir(hookspecs) if name.startswith("stopsync_"))


def signature_text(func: object) -> str:
    sig = inspect.signature(func)  # type: ignore[arg-type]
    params = ", ".join(f"{p.name}: {p.annotation}" for p in sig.parameters.values())
    return f"{func.__name__}({params}) -> {sig.return_annotation}"  # type: ignore[attr-defined]


def test_there_are_the_required_hooks() -> None:
    assert {
        "stopsync_register_data_sources", "stopsync_register_matching_strategies",
        "stopsync_register_cli_commands", "stopsync_stage_finished",
        "stopsync_snapshot_published",
    } <= set(HOOKS)


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_documented_with_its_signature(hook: str) -> None:
    doc = (REPO / "docs" / "plugin-hooks.md").read_text()
    assert f"### `{signature_text(getattr(hookspecs, hook))}`" in doc


# Which test exercises each hook through a real plugin; a new hook needs an entry here.
HOOK_TESTS = {
    "stopsync_register_data_sources": ("tests/core/test_plugins.py", "test_duplicate_source_name_fails_at_start_up"),
    "stopsync_register_matching_strategies": ("tests/core/test_pipeline_commands.py",
                                              "test_example_plugin_strategy_runs_when_configured"),
    "stopsync_register_cli_commands": ("tests/core/test_plugins.py", "test_plugin_cli_command_is_added"),
    "stopsync_register_blueprints": ("tests/core/test_plugins.py", "test_plugin_blueprint_is_registered"),
    "stopsync_stage_finished": ("tests/core/test_pipeline_commands.py", "test_run_publishes_and_notifies_plugins"),
    "stopsync_snapshot_published": ("tests/core/test_pipeline_commands.py",
                                    "test_run_publishes_and_notifies_plugins"),
}


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_test(hook: str) -> None:
    assert hook in HOOK_TESTS, f"{hook} has no test listed in HOOK_TESTS"
    path, name = HOOK_TESTS[hook]
    assert f"def {name}(" in (REPO / path).read_text()


def test_entry_point_group_and_marker_are_the_documented_name() -> None:
    doc = (REPO / "docs" / "plugin-hooks.md").read_text()
    assert hookspecs.ENTRY_POINT_GROUP == hookspecs.PROJECT_NAME == "stopsync"
    assert "[project.entry-points.stopsync]" in doc
    example = (REPO / "tests/plugins/examples/stopsync-example-nearest/pyproject.toml").read_text()
    assert "[project.entry-points.stopsync]" in example


def test_builtins_are_registered_as_plugins(tmp_path: Path) -> None:
    app = create_app(base_config(tmp_path))
    plugins = app.extensions[EXTENSION_KEY]
    names = {info.name for info in plugins.infos()}
    assert {"builtin-sources", "builtin-overpass", "builtin-exact-reference"} <= names
    assert {"atlas-csv", "osm-file", "border-file", "overpass"} <= set(plugins.data_sources)
    assert "exact_reference" in plugins.strategies


def test_example_plugin_is_discovered_from_its_entry_point(tmp_path: Path) -> None:
    app = create_app(base_config(tmp_path))
    plugins = app.extensions[EXTENSION_KEY]
    info = {i.name: i for i in plugins.infos()}["example-nearest"]
    assert info.version == "1.2.0" and not info.builtin
    assert info.distribution == "stopsync-example-nearest"
    assert "example_nearest" in plugins.strategies
    # Installed is not enabled: the default run order has only the built-in stages.
    assert "example_nearest" not in [c.name for c in plugins.strategy_order(None)]


def test_safe_mode_skips_entry_point_plugins(tmp_path: Path) -> None:
    app = create_app(base_config(tmp_path, SAFE_MODE=True))
    assert "example_nearest" not in app.extensions[EXTENSION_KEY].strategies


def test_disabled_plugins_are_blocked(tmp_path: Path) -> None:
    app = create_app(base_config(tmp_path, DISABLED_PLUGINS="example-nearest,builtin-overpass"))
    plugins = app.extensions[EXTENSION_KEY]
    assert "example_nearest" not in plugins.strategies
    assert "overpass" not in plugins.data_sources
    assert "exact_reference" in plugins.strategies


def test_disabled_plugins_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STOPSYNC_DISABLED_PLUGINS", "example-nearest")
    app = create_app(base_config(tmp_path))
    assert "example_nearest" not in app.extensions[EXTENSION_KEY].strategies


def _module(name: str, **attrs: object) -> types.ModuleType:
    module = types.ModuleType(name)
    for key, value in attrs.items():
        setattr(module, key, value)
    sys.modules[name] = module
    return module


class _Twin(MatchingStrategy):
    name = "exact_reference"

    def run(self, engine: object) -> None:  # type: ignore[override]
        return None


def test_duplicate_strategy_name_fails_at_start_up(tmp_path: Path) -> None:
    @hookimpl
    def stopsync_register_matching_strategies() -> list[type[MatchingStrategy]]:
        return [_Twin]

    _module("dup_strategy_plugin", stopsync_register_matching_strategies=stopsync_register_matching_strategies)
    with pytest.raises(PluginError, match="duplicate matching strategy name 'exact_reference'"):
        create_app(base_config(tmp_path, PLUGINS=["dup_strategy_plugin"]))


def test_duplicate_source_name_fails_at_start_up(tmp_path: Path) -> None:
    from stopsync.plugins.builtin.sources import AtlasCsvSource

    class Copy(AtlasCsvSource):
        pass

    @hookimpl
    def stopsync_register_data_sources() -> list[type]:
        return [Copy]

    _module("dup_source_plugin", stopsync_register_data_sources=stopsync_register_data_sources)
    with pytest.raises(PluginError, match="duplicate data source name 'atlas-csv'"):
        create_app(base_config(tmp_path, PLUGINS=["dup_source_plugin"]))


def test_unknown_hook_in_a_plugin_fails(tmp_path: Path) -> None:
    @hookimpl
    def stopsync_no_such_hook() -> None:
        return None

    _module("bad_hook_plugin", stopsync_no_such_hook=stopsync_no_such_hook)
    with pytest.raises(PluginError, match="unknown hook"):
        create_app(base_config(tmp_path, PLUGINS=["bad_hook_plugin"]))


def test_unimportable_plugin_module_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(PluginError, match="cannot be imported"):
        create_app(base_config(tmp_path, PLUGINS=["no.such.module"]))


def test_unknown_strategy_in_config_is_a_clear_error(tmp_path: Path) -> None:
    app = create_app(base_config(tmp_path, MATCHING_STRATEGIES="exact_reference,nope"))
    with pytest.raises(ConfigurationError, match="unknown strategy 'nope'"):
        app.extensions[EXTENSION_KEY].strategy_order(app.config["MATCHING_STRATEGIES"])


def test_plugin_blueprint_is_registered(tmp_path: Path) -> None:
    from flask import Blueprint

    bp = Blueprint("plugin_page", __name__)

    @bp.get("/plugin-page")
    def page() -> str:
        return "hello from a plugin"

    @hookimpl
    def stopsync_register_blueprints() -> list[Blueprint]:
        return [bp]

    _module("bp_plugin", stopsync_register_blueprints=stopsync_register_blueprints)
    app = create_app(base_config(tmp_path, PLUGINS=["bp_plugin"]))
    assert app.test_client().get("/plugin-page").data == b"hello from a plugin"


def test_plugins_list_command(tmp_path: Path) -> None:
    app = create_app(base_config(tmp_path))
    result = app.test_cli_runner().invoke(args=["plugins", "list"])
    assert result.exit_code == 0, result.output
    assert re.search(r"^example-nearest 1\.2\.0 \(stopsync-example-nearest\)$", result.output, re.M)
    assert re.search(r"^builtin-exact-reference \S+ \(builtin\)$", result.output, re.M)
    assert "    stopsync_register_matching_strategies" in result.output
    assert ("matching strategies (run order): manual_links, ref_sloid, exact_reference, exact_name, "
            "route_evidence, group_proximity, platform_code_distance, single_candidate, ratio_test, "
            "fuzzy_name") in result.output


def test_plugin_cli_command_is_added(tmp_path: Path) -> None:
    app = create_app(base_config(tmp_path))
    result = app.test_cli_runner().invoke(args=["example-nearest-stats"])
    assert result.exit_code == 0 and "events seen:" in result.output
