"""Scoring a ``matches.csv`` against the ground truth of a generated instance.

Definitions (a *link* is one ``(sloid, osm_id)`` pair; repeated rows count once):

- **precision** = correct predicted links / predicted links. A link is correct when it is in
  ``truth.csv``; links of SLOIDs that the truth does not know count as wrong.
- **recall** (platform level, the headline figure) = ATLAS platforms with a true counterpart
  that got at least one correct link / all ATLAS platforms with a true counterpart. This is
  the "match rate" users see, restricted to correct links.
- **link recall** = correct predicted links / true links (a platform mapped as a pair has two).
- **f1** = harmonic mean of precision and (platform) recall; **link f1** uses link recall.
- Per method (the ``method`` column): predicted, correct, precision, and the share of all true
  links that method found. Per truth category: platforms, platforms recalled, recall, link
  recall and wrong links; for categories without a counterpart (``missing``) the number of
  platforms that were linked anyway (all of those links are false).
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError

TRUTH_FILE = "truth.csv"
UNMATCHED_FILE = "truth_unmatched_atlas.csv"
TRUTH_COLUMNS = ("sloid", "osm_id", "category")
UNMATCHED_COLUMNS = ("sloid", "category")
PREDICTION_COLUMNS = ("sloid", "osm_id", "method")


@dataclass(frozen=True)
class MethodScore:
    method: str
    predicted: int
    correct: int
    precision: float
    share_of_truth_links: float  # correct / all true links


@dataclass(frozen=True)
class CategoryScore:
    category: str
    platforms: int
    matchable: bool  # whether the category has true counterparts
    recalled: int  # platforms with at least one correct link (0 when not matchable)
    recall: float | None  # None when not matchable
    truth_links: int
    correct_links: int
    link_recall: float | None
    linked_platforms: int  # platforms with any predicted link
    wrong_links: int  # predicted links of these platforms that are not true


@dataclass(frozen=True)
class EvaluationReport:
    predicted_links: int
    correct_links: int
    truth_links: int
    truth_platforms: int  # platforms with a true counterpart
    recalled_platforms: int
    unmatchable_platforms: int
    precision: float
    recall: float
    f1: float
    link_recall: float
    link_f1: float
    unknown_sloid_links: int  # predicted links whose SLOID is in neither truth file
    per_method: list[MethodScore] = field(default_factory=list)
    per_category: list[CategoryScore] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else 0.0


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def _read_table(path: Path, required: tuple[str, ...], what: str) -> list[tuple[int, dict[str, str]]]:
    """Rows (with their line numbers) of a comma-separated file that must have ``required``."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{what} not found", path=str(path))
    rows: list[tuple[int, dict[str, str]]] = []
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            header = [name.strip() for name in reader.fieldnames or []]
            if not header:
                raise InputError(f"{what} is empty (no header line)", path=str(path), line=1)
            missing = [column for column in required if column not in header]
            if missing:
                raise InputError(f"{what}: required column {missing[0]!r} is missing from the header",
                                 path=str(path), line=1, column=missing[0])
            reader.fieldnames = header
            for row in reader:
                line = reader.line_num
                values = {column: (row.get(column) or "").strip() for column in required}
                empty = [column for column in required if not values[column]]
                if empty:
                    raise InputError(f"{what}: empty value", path=str(path), line=line, column=empty[0])
                rows.append((line, values))
    except UnicodeDecodeError as exc:
        raise InputError(f"{what} is not UTF-8 text: {exc.reason}", path=str(path)) from exc
    except csv.Error as exc:
        raise InputError(f"{what} is not a readable CSV: {exc}", path=str(path)) from exc
    return rows


def _truth(truth_dir: Path) -> tuple[set[tuple[str, str]], dict[str, str], dict[str, str]]:
    """True links, the category of each platform with links, and of each platform without."""
    truth_dir = Path(truth_dir)
    if not truth_dir.is_dir():
        raise InputError("the truth directory does not exist", path=str(truth_dir))
    links: set[tuple[str, str]] = set()
    linked_category: dict[str, str] = {}
    for _line, row in _read_table(truth_dir / TRUTH_FILE, TRUTH_COLUMNS, "truth file"):
        links.add((row["sloid"], row["osm_id"]))
        linked_category.setdefault(row["sloid"], row["category"])
    unmatched_category: dict[str, str] = {}
    for line, row in _read_table(truth_dir / UNMATCHED_FILE, UNMATCHED_COLUMNS, "unmatched truth file"):
        if row["sloid"] in linked_category:
            raise InputError(f"SLOID {row['sloid']} is both linked in {TRUTH_FILE} and listed as unmatched",
                             path=str(truth_dir / UNMATCHED_FILE), line=line)
        unmatched_category[row["sloid"]] = row["category"]
    return links, linked_category, unmatched_category


def _predictions(path: Path) -> dict[tuple[str, str], str]:
    """Predicted links and the method of each (the first row wins for a repeated link)."""
    predicted: dict[tuple[str, str], str] = {}
    for _line, row in _read_table(path, PREDICTION_COLUMNS, "predicted matches"):
        predicted.setdefault((row["sloid"], row["osm_id"]), row["method"])
    return predicted


def _per_method(predicted: dict[tuple[str, str], str], truth: set[tuple[str, str]]) -> list[MethodScore]:
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for link, method in predicted.items():
        totals[method][0] += 1
        totals[method][1] += link in truth
    return [MethodScore(method, n, correct, _ratio(correct, n), _ratio(correct, len(truth)))
            for method, (n, correct) in sorted(totals.items())]


def _per_category(
    predicted: Iterable[tuple[str, str]], truth: set[tuple[str, str]], linked: dict[str, str],
    unmatched: dict[str, str],
) -> list[CategoryScore]:
    platforms: dict[str, int] = defaultdict(int)
    for category in (*linked.values(), *unmatched.values()):
        platforms[category] += 1
    truth_links: dict[str, int] = defaultdict(int)
    for sloid, _osm_id in truth:
        truth_links[linked[sloid]] += 1
    correct_links: dict[str, int] = defaultdict(int)
    wrong_links: dict[str, int] = defaultdict(int)
    recalled: dict[str, set[str]] = defaultdict(set)
    touched: dict[str, set[str]] = defaultdict(set)
    for link in predicted:
        sloid = link[0]
        found = linked.get(sloid) or unmatched.get(sloid)
        if found is None:
            continue  # an unknown SLOID belongs to no category (counted in unknown_sloid_links)
        touched[found].add(sloid)
        if link in truth:
            correct_links[found] += 1
            recalled[found].add(sloid)
        else:
            wrong_links[found] += 1
    matchable = set(linked.values())
    scores = []
    for category in sorted(platforms, key=lambda c: (c not in matchable, c)):
        is_matchable = category in matchable
        scores.append(CategoryScore(
            category=category, platforms=platforms[category], matchable=is_matchable,
            recalled=len(recalled[category]),
            recall=_ratio(len(recalled[category]), platforms[category]) if is_matchable else None,
            truth_links=truth_links[category], correct_links=correct_links[category],
            link_recall=_ratio(correct_links[category], truth_links[category]) if is_matchable else None,
            linked_platforms=len(touched[category]), wrong_links=wrong_links[category],
        ))
    return scores


def evaluate(truth_dir: Path, predicted_matches_csv: Path) -> EvaluationReport:
    """Score ``predicted_matches_csv`` (``sloid,osm_id,method,...``) against the truth files in
    ``truth_dir``; raises ``InputError`` for a missing file or column. See the module docstring
    for the definitions (recall is platform level; link recall is reported too)."""
    truth, linked, unmatched = _truth(truth_dir)
    predicted = _predictions(predicted_matches_csv)
    correct = sum(1 for link in predicted if link in truth)
    recalled = {sloid for sloid, osm_id in predicted if (sloid, osm_id) in truth}
    precision = _ratio(correct, len(predicted))
    recall = _ratio(len(recalled), len(linked))
    link_recall = _ratio(correct, len(truth))
    return EvaluationReport(
        predicted_links=len(predicted), correct_links=correct, truth_links=len(truth), truth_platforms=len(linked),
        recalled_platforms=len(recalled), unmatchable_platforms=len(unmatched), precision=precision, recall=recall,
        f1=_f1(precision, recall), link_recall=link_recall, link_f1=_f1(precision, link_recall),
        unknown_sloid_links=sum(1 for sloid, _osm in predicted if sloid not in linked and sloid not in unmatched),
        per_method=_per_method(predicted, truth),
        per_category=_per_category(predicted, truth, linked, unmatched),
    )


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]

    def line(cells: tuple[str, ...]) -> str:
        # The first column is a name (left-aligned); the others are numbers.
        return "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w)
                         for i, (cell, w) in enumerate(zip(cells, widths, strict=True))).rstrip()

    return [line(header), "  ".join("-" * w for w in widths), *(line(row) for row in rows)]


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.2f} %"


def format_report(report: EvaluationReport) -> str:
    """The report as aligned text tables: overall, per method, per truth category."""
    lines = ["overall"]
    lines += _table(("measure", "value", "count"), [
        ("precision", _pct(report.precision), f"{report.correct_links}/{report.predicted_links} links"),
        ("recall (platforms)", _pct(report.recall), f"{report.recalled_platforms}/{report.truth_platforms} platforms"),
        ("f1", _pct(report.f1), ""),
        ("link recall", _pct(report.link_recall), f"{report.correct_links}/{report.truth_links} links"),
        ("link f1", _pct(report.link_f1), ""),
        ("unknown-SLOID links", "", str(report.unknown_sloid_links)),
    ])
    lines += ["", "per method"]
    lines += _table(("method", "predicted", "correct", "precision", "of truth links"), [
        (m.method, str(m.predicted), str(m.correct), _pct(m.precision), _pct(m.share_of_truth_links))
        for m in report.per_method
    ])
    lines += ["", "per truth category"]
    lines += _table(("category", "platforms", "recalled", "recall", "link recall", "linked", "wrong links"), [
        (c.category, str(c.platforms), str(c.recalled) if c.matchable else "-", _pct(c.recall),
         _pct(c.link_recall), str(c.linked_platforms), str(c.wrong_links))
        for c in report.per_category
    ])
    return "\n".join(lines)
