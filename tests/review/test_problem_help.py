"""Every problem type has a short explanation and a help page."""

from __future__ import annotations

import pytest
from flask import Flask

from stopsync.pipeline.problems import PROBLEM_TYPES
from stopsync.problem_help import HELP


def test_every_type_is_explained() -> None:
    assert set(HELP) == set(PROBLEM_TYPES)
    for help_text in HELP.values():
        assert help_text.short and help_text.meaning and help_text.causes and help_text.who_fixes


@pytest.mark.parametrize("problem_type", PROBLEM_TYPES)
def test_help_page(sqlite_app: Flask, problem_type: str) -> None:
    response = sqlite_app.test_client().get(f"/help/problems/{problem_type}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert HELP[problem_type].title in page and "Who fixes it" in page


def test_index_and_unknown_type(sqlite_app: Flask) -> None:
    client = sqlite_app.test_client()
    assert all(h.title in client.get("/help/problems").get_data(as_text=True) for h in HELP.values())
    missing = client.get("/help/problems/nope")
    assert missing.status_code == 404 and b"no problem type" in missing.data
