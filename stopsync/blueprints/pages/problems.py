"""``/problems``: the problems list as a page, with the filters, order and cursor paging of
``/api/v1/problems`` (the same function builds both)."""

from __future__ import annotations

from typing import Any

from flask import render_template, url_for
from werkzeug.datastructures import MultiDict

from ...problem_help import HELP
from ..api.params import reject_unknown
from ..api.problems import PROBLEMS_PARAMETERS, SORTS, STATUSES, problems_page
from . import bp, labels, read_one_snapshot
from .seo import page_arguments

# Fewer rows than the API's default: a page is read by a person.
PAGE_LIMIT = 50
FORM_FILTERS = ("type", "priority", "status", "operator", "sort")


def list_arguments() -> dict[str, str]:
    """The API parameters of this request. The filter form sends empty fields (no filter)
    and repeats a parameter for several values; the API takes a comma-separated list."""
    given: MultiDict[str, str] = MultiDict(page_arguments())
    reject_unknown(given, PROBLEMS_PARAMETERS)
    arguments = {name: ",".join(value for value in given.getlist(name) if value.strip())
                 for name in given}
    return {name: value for name, value in arguments.items() if value}


@bp.get("/problems")
def problems_list() -> str:
    """Problems of the published snapshot; a 400 page for a bad parameter, like the API."""
    arguments = list_arguments()
    read_one_snapshot()
    page = problems_page({"limit": str(PAGE_LIMIT), **arguments})
    filters = {name: value for name, value in arguments.items() if name != "cursor"}
    next_url = list_url({**filters, "cursor": page["next_cursor"]}) if page["next_cursor"] else None
    first_url = list_url(filters) if "cursor" in arguments else None
    return render_template(
        "pages/problems.html", page=page, filters=filters, next_url=next_url, first_url=first_url,
        label=labels, form=_form_choices(),
    )


def list_url(arguments: dict[str, str]) -> str:
    query: dict[str, Any] = dict(arguments)
    return url_for("pages.problems_list", **query)


def _form_choices() -> dict[str, Any]:
    return {
        "types": [(problem_type, labels.problem_title(problem_type)) for problem_type in HELP],
        "priorities": [(str(value), labels.priority(value)) for value in labels.PRIORITIES],
        "statuses": [(value, labels.status(value)) for value in STATUSES],
        "sorts": [(value, labels.sort(value)) for value in SORTS],
    }
