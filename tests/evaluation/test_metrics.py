"""Metrics on hand-made truth and predictions, where every figure is known by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from stopsync.errors import InputError
from stopsync.evaluation.cli import evaluate_command
from stopsync.evaluation.metrics import evaluate, format_report

TRUTH = """sloid,osm_id,category
s1,node/1,pair
s1,node/2,pair
s2,node/3,platform_only
s3,way/4,way
s4,node/5,stop_position_only
"""
UNMATCHED = "sloid,category\ns5,missing\n"
PREDICTED = """sloid,osm_id,method,distance_m,score,evidence
s1,node/1,exact_reference,1.0,1.0,{}
s2,node/3,exact_reference,2.0,1.0,{}
s3,node/9,group_proximity,40.0,0.5,{}
s5,node/7,group_proximity,30.0,0.5,{}
s1,node/1,exact_name,1.0,1.0,{}
sX,node/8,ratio_test,5.0,0.5,{}
"""


def _truth_dir(tmp_path: Path, truth: str = TRUTH, unmatched: str = UNMATCHED) -> Path:
    directory = tmp_path / "truth"
    directory.mkdir(exist_ok=True)
    (directory / "truth.csv").write_text(truth, encoding="utf-8")
    (directory / "truth_unmatched_atlas.csv").write_text(unmatched, encoding="utf-8")
    return directory


def _predicted(tmp_path: Path, text: str = PREDICTED) -> Path:
    path = tmp_path / "matches.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_overall_figures_are_the_hand_computed_ones(tmp_path: Path) -> None:
    report = evaluate(_truth_dir(tmp_path), _predicted(tmp_path))
    # Distinct predicted links: (s1,1) (s2,3) (s3,9) (s5,7) (sX,8) -- the repeated (s1,1) counts once.
    assert report.predicted_links == 5
    assert report.correct_links == 2  # (s1,1) and (s2,3)
    assert report.precision == pytest.approx(2 / 5)
    # Platforms with a counterpart: s1..s4; s1 and s2 got a correct link.
    assert (report.recalled_platforms, report.truth_platforms) == (2, 4)
    assert report.recall == pytest.approx(2 / 4)
    assert report.f1 == pytest.approx(2 * 0.4 * 0.5 / (0.4 + 0.5))
    assert report.truth_links == 5
    assert report.link_recall == pytest.approx(2 / 5)
    assert report.link_f1 == pytest.approx(0.4)
    assert report.unknown_sloid_links == 1
    assert report.unmatchable_platforms == 1


def test_per_method_and_per_category(tmp_path: Path) -> None:
    report = evaluate(_truth_dir(tmp_path), _predicted(tmp_path))
    methods = {m.method: (m.predicted, m.correct, m.precision) for m in report.per_method}
    # The first row of a repeated link decides its method, so exact_name gets nothing.
    assert methods == {"exact_reference": (2, 2, 1.0), "group_proximity": (2, 0, 0.0), "ratio_test": (1, 0, 0.0)}
    exact = next(m for m in report.per_method if m.method == "exact_reference")
    assert exact.share_of_truth_links == pytest.approx(2 / 5)
    categories = {c.category: c for c in report.per_category}
    assert [c.category for c in report.per_category][-1] == "missing"  # unmatchable categories last
    pair = categories["pair"]
    assert (pair.platforms, pair.recalled, pair.recall, pair.truth_links, pair.correct_links) == (1, 1, 1.0, 2, 1)
    assert pair.link_recall == pytest.approx(0.5)
    assert (categories["platform_only"].recall, categories["way"].recall) == (1.0, 0.0)
    assert categories["way"].wrong_links == 1 and categories["way"].linked_platforms == 1
    assert categories["stop_position_only"].recall == 0.0 and categories["stop_position_only"].linked_platforms == 0
    missing = categories["missing"]
    assert (missing.matchable, missing.recall, missing.platforms, missing.linked_platforms, missing.wrong_links) == (
        False, None, 1, 1, 1)


def test_perfect_and_empty_predictions(tmp_path: Path) -> None:
    truth_dir = _truth_dir(tmp_path)
    perfect = "sloid,osm_id,method\n" + "".join(
        f"{line.split(',')[0]},{line.split(',')[1]},exact_reference\n" for line in TRUTH.splitlines()[1:])
    report = evaluate(truth_dir, _predicted(tmp_path, perfect))
    assert (report.precision, report.recall, report.f1, report.link_recall) == (1.0, 1.0, 1.0, 1.0)
    empty = evaluate(truth_dir, _predicted(tmp_path, "sloid,osm_id,method\n"))
    assert (empty.precision, empty.recall, empty.f1, empty.predicted_links) == (0.0, 0.0, 0.0, 0)


def test_format_report_is_an_aligned_table(tmp_path: Path) -> None:
    text = format_report(evaluate(_truth_dir(tmp_path), _predicted(tmp_path)))
    assert "40.00 %" in text and "50.00 %" in text and "44.44 %" in text
    lines = text.splitlines()
    method_header = next(i for i, line in enumerate(lines) if line.startswith("method"))
    separator = lines[method_header + 1]
    # Every number column ends where its dashes end.
    row = next(line for line in lines[method_header + 2:] if line.startswith("exact_reference"))
    assert len(row) == len(separator)
    assert "missing" in text and "group_proximity" in text


@pytest.mark.parametrize(("truth", "unmatched", "predicted", "message"), [
    (TRUTH.replace("category", "kind"), UNMATCHED, PREDICTED, "'category' is missing"),
    (TRUTH, "sloid\ns5\n", PREDICTED, "'category' is missing"),
    (TRUTH, UNMATCHED, PREDICTED.replace("method", "stage"), "'method' is missing"),
    (TRUTH, UNMATCHED, "", "empty"),
    (TRUTH, UNMATCHED, "sloid,osm_id,method\ns1,,exact_reference\n", "empty value"),
    (TRUTH, "sloid,category\ns1,missing\n", PREDICTED, "both linked"),
])
def test_bad_inputs_raise_input_error(tmp_path: Path, truth: str, unmatched: str, predicted: str,
                                      message: str) -> None:
    with pytest.raises(InputError, match=message):
        evaluate(_truth_dir(tmp_path, truth, unmatched), _predicted(tmp_path, predicted))


def test_missing_files_raise_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="truth directory does not exist"):
        evaluate(tmp_path / "nowhere", _predicted(tmp_path))
    truth_dir = _truth_dir(tmp_path)
    with pytest.raises(InputError, match="predicted matches not found"):
        evaluate(truth_dir, tmp_path / "nope.csv")
    (truth_dir / "truth_unmatched_atlas.csv").unlink()
    with pytest.raises(InputError, match="unmatched truth file not found"):
        evaluate(truth_dir, _predicted(tmp_path))


def test_evaluate_command_prints_text_and_json(tmp_path: Path) -> None:
    truth_dir, predicted = _truth_dir(tmp_path), _predicted(tmp_path)
    runner = CliRunner()
    text = runner.invoke(evaluate_command, ["--truth", str(truth_dir), "--pred", str(predicted)])
    assert text.exit_code == 0, text.output
    assert "precision" in text.output and "40.00 %" in text.output
    as_json = runner.invoke(evaluate_command, ["--truth", str(truth_dir), "--pred", str(predicted), "--json"])
    assert as_json.exit_code == 0, as_json.output
    body = json.loads(as_json.output)
    assert body["precision"] == pytest.approx(0.4) and body["recall"] == pytest.approx(0.5)
    assert {m["method"] for m in body["per_method"]} == {"exact_reference", "group_proximity", "ratio_test"}


def test_evaluate_command_reports_bad_input(tmp_path: Path) -> None:
    result = CliRunner().invoke(evaluate_command, ["--truth", str(_truth_dir(tmp_path)),
                                                   "--pred", str(tmp_path / "nope.csv")])
    assert result.exit_code == 1
    assert "error:" in result.output and "nope.csv" in result.output
