"""Names of the data's codes (problem types, priorities, statuses, methods, kinds) in the
reader's language, for the page templates. The map uses the same names (``map/strings.py``);
an unknown code (say, from a plugin) is shown as it is."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flask_babel import gettext as _

from ...problem_help import HELP
from ..map.strings import METHOD_LABELS, PROBLEM_TITLES

PRIORITIES: dict[int, Callable[[], str]] = {
    1: lambda: _("1 – critical"),  # noqa: RUF001 (a typographic dash)
    2: lambda: _("2 – significant"),  # noqa: RUF001 (a typographic dash)
    3: lambda: _("3 – minor"),  # noqa: RUF001 (a typographic dash)
}
STATUSES: dict[str, Callable[[], str]] = {
    "new": lambda: _("new"),
    "persisting": lambda: _("persisting"),
    "reopened": lambda: _("reopened"),
    "decided": lambda: _("decided"),
}
KINDS: dict[str, Callable[[], str]] = {
    "platform": lambda: _("platform"),
    "stop_position": lambda: _("stop position"),
    "station": lambda: _("station"),
}
SORTS: dict[str, Callable[[], str]] = {
    "priority": lambda: _("priority"),
    "type": lambda: _("problem type"),
    "distance": lambda: _("largest distance"),
}


def _label(labels: Mapping[Any, Callable[[], str]], code: Any) -> str:
    label = labels.get(code)
    return label() if label else str(code)


def problem_title(problem_type: str) -> str:
    if problem_type in PROBLEM_TITLES:
        return PROBLEM_TITLES[problem_type]()
    help_text = HELP.get(problem_type)
    return help_text.translated().title if help_text else problem_type


def priority(value: int) -> str:
    return _label(PRIORITIES, value)


def status(value: str) -> str:
    return _label(STATUSES, value)


def method(value: str) -> str:
    return _label(METHOD_LABELS, value)


def kind(value: str) -> str:
    return _label(KINDS, value)


def sort(value: str) -> str:
    return _label(SORTS, value)
