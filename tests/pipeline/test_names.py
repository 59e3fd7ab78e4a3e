"""Swiss stop-name normalisation."""

from __future__ import annotations

import pytest

from stopsync.pipeline.names import fold, name_variants, normalise, split_municipality


@pytest.mark.parametrize(("raw", "expected"), [
    ("Zürich, Bahnhof", "zurich bahnhof"),
    ("Zürich, Bhf.", "zurich bahnhof"),
    ("Zürich Bf", "zurich bahnhof"),
    ("Bern Hbf", "bern hauptbahnhof"),
    ("Bahnhofstr.", "bahnhofstrasse"),
    ("Bahnhof Str.", "bahnhof strasse"),
    ("Bahnhofstraße", "bahnhofstrasse"),
    ("St. Gallen", "sankt gallen"),
    ("Sankt Gallen", "sankt gallen"),
    ("Saint-Imier", "sankt imier"),
    ("Genève, Gare Cornavin", "geneve bahnhof cornavin"),
    ("Bex, Vasselin", "bex vasselin"),
    ("L\u2019Abbaye", "l abbaye"),  # typographic apostrophe
    ("  Le   Pontet ", "le pontet"),
    ("", ""),
])
def test_normalise(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


def test_fold_removes_accents_and_case() -> None:
    assert fold("ÉCHALLENS Gare Dürrenäsch") == "echallens gare durrenasch"


def test_split_municipality() -> None:
    assert split_municipality("Zürich, Bahnhof") == ("Zürich", "Bahnhof")
    assert split_municipality("Bahnhof") == ("", "Bahnhof")
    assert split_municipality("Zürich,") == ("", "Zürich,")


def test_variants_of_an_atlas_name_include_the_stop_part() -> None:
    assert name_variants("Zürich, Bahnhof") == {"zurich bahnhof", "bahnhof"}
    assert name_variants("Zürich, Bahnhof", stop_part=False) == {"zurich bahnhof"}


def test_bilingual_names_give_each_language() -> None:
    variants = name_variants("Biel/Bienne, Bahnhof")
    assert {"biel bahnhof", "bienne bahnhof", "biel bienne bahnhof", "bahnhof"} == variants
    # Bahnhof and Gare are one concept: the French spelling meets the German one.
    assert name_variants("Bienne, Gare", stop_part=False) & variants


def test_empty_name_has_no_variants() -> None:
    assert name_variants("  ") == frozenset()
