"""Help pages: what each problem type means and who fixes it where."""

from __future__ import annotations

from flask import Blueprint, render_template

from ...errors import NotFoundError
from ...problem_help import HELP

bp = Blueprint("help", __name__, url_prefix="/help")


@bp.get("/problems")
def problems_index() -> str:
    return render_template("help/problems.html", helps=[entry.translated() for entry in HELP.values()])


@bp.get("/problems/<problem_type>")
def problem_page(problem_type: str) -> str:
    help_text = HELP.get(problem_type)
    if help_text is None:
        raise NotFoundError(f"no problem type {problem_type!r}; known: {', '.join(HELP)}")
    return render_template("help/problem.html", help=help_text.translated())
