"""``generate`` and ``evaluate``: click commands the lead registers under ``flask pipeline``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ..errors import StopsyncError

# Where the real service-point list lives next to a checkout (the shared data folder).
DEFAULT_HRDF = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "real" / "hrdf_service_points_2024.csv"


def _fail(error: StopsyncError) -> None:
    click.echo(f"error: {error.message}", err=True)
    sys.exit(error.exit_code)


@click.command("evaluate")
@click.option("--truth", "truth_dir", type=click.Path(path_type=Path), required=True,
              help="Directory of a generated instance (truth.csv, truth_unmatched_atlas.csv).")
@click.option("--pred", "pred_path", type=click.Path(path_type=Path), required=True,
              help="matches.csv written by `flask pipeline match`.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def evaluate_command(truth_dir: Path, pred_path: Path, as_json: bool) -> None:
    """Score predicted matches against the ground truth: precision, recall, F1, per method and category."""
    from .metrics import evaluate, format_report

    try:
        report = evaluate(truth_dir, pred_path)
    except StopsyncError as error:
        _fail(error)
        return
    click.echo(json.dumps(report.to_dict(), indent=2, sort_keys=True) if as_json else format_report(report))


@click.command("generate")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), required=True,
              help="Directory for atlas.csv, osm.xml (with route relations), gtfs.zip and the truth files.")
@click.option("--seed", type=int, required=True, help="Random seed; the same seed gives the same files.")
@click.option("--scale", type=click.FloatRange(min=0.0, min_open=True, max=1.0), default=1.0, show_default=True,
              help="Share of the Swiss service points to use (1.0: national size).")
@click.option("--hrdf", "hrdf_path", type=click.Path(path_type=Path),
              default=DEFAULT_HRDF if DEFAULT_HRDF.is_file() else None, required=not DEFAULT_HRDF.is_file(),
              show_default=True, help="hrdf_service_points_2024.csv (the real service points).")
def generate_command(out_dir: Path, seed: int, scale: float, hrdf_path: Path) -> None:
    """Generate an ATLAS export, an OSM file, a GTFS feed and their true links from the real service points."""
    from .generator import generate

    try:
        instance = generate(out_dir, seed=seed, scale=scale, hrdf_csv=hrdf_path)
    except StopsyncError as error:
        _fail(error)
        return
    counts = instance.counts
    click.echo(f"service points {counts['service_points']}; ATLAS rows {counts['atlas_rows']} "
               f"({counts['atlas_platforms']} platforms); OSM elements {counts['osm_elements']}; "
               f"true links {counts['truth_links']}; {instance.duration_s:.1f} s")
    click.echo("platforms per category: " + ", ".join(
        f"{name} {count}" for name, count in counts["platforms_per_category"].items()))
    lines, routes, gtfs = counts["lines"], counts["osm_routes"], counts["gtfs"]
    click.echo(f"lines {lines['lines']} ({', '.join(f'{m} {n}' for m, n in lines['lines_per_mode'].items())}); "
               f"OSM route relations {routes.get('route_relations', 0)} (+{routes.get('route_masters', 0)} masters); "
               f"GTFS stops {gtfs['stops']}, trips {gtfs['trips']}, stop_times {gtfs['stop_times']}")
    for path in (instance.atlas_csv, instance.osm_xml, instance.gtfs_zip, instance.truth_csv,
                 instance.truth_unmatched_csv, instance.truth_routes_csv, instance.summary_json):
        click.echo(f"wrote {path}")
