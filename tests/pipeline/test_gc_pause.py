"""The collector pause around runs: off inside, restored after, also on errors and nesting."""

from __future__ import annotations

import gc

import pytest

from stopsync.pipeline.gc_pause import collector_paused


@pytest.fixture(autouse=True)
def _collector_on():
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


def test_collector_is_off_inside_and_back_on_after() -> None:
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_nested_pauses_switch_back_on_only_at_the_outermost() -> None:
    with collector_paused():
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_an_error_inside_still_restores_the_collector() -> None:
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("boom")
    assert gc.isenabled()


def test_a_collector_switched_off_by_the_host_stays_off() -> None:
    gc.disable()
    with collector_paused():
        pass
    assert not gc.isenabled()


def test_run_match_pauses_the_collector_while_it_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    from stopsync.pipeline import match

    seen: list[bool] = []

    def fake_run(*args: object, **kwargs: object) -> str:
        seen.append(gc.isenabled())
        return "result"

    monkeypatch.setattr(match, "_run_match", fake_run)
    from pathlib import Path
    assert match.run_match(Path("a"), Path("b"), atlas_source=None, osm_source=None,  # type: ignore[arg-type]
                           strategies=[]) == "result"
    assert seen == [False]
    assert gc.isenabled()
