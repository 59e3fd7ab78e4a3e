"""Swiss stop-name normalisation for the name stages.

ATLAS writes official names as ``<municipality>, <stop>`` ("Zürich, Bahnhof"); OSM ``name``
often carries only the stop part ("Bahnhof") while ``uic_name`` repeats the official name.
Both sides abbreviate (``Bhf``, ``Str.``, ``St.``), write accents or not, and bilingual places
carry both names (``Biel/Bienne``). :func:`normalise` folds one spelling to a canonical string;
:func:`name_variants` lists the canonical forms one name can legitimately be compared under.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Token-wise expansions after folding (dots already removed). Variants of one concept map to
# one canonical token so that "St. Gallen", "Sankt Gallen" and "Saint-Gall" share "sankt".
_TOKEN_CANON: dict[str, str] = {
    "bhf": "bahnhof",
    "bf": "bahnhof",
    "bahnhof": "bahnhof",
    "gare": "bahnhof",
    "stazione": "bahnhof",
    "hbf": "hauptbahnhof",
    "str": "strasse",
    "st": "sankt",
    "sankt": "sankt",
    "saint": "sankt",
    "san": "sankt",
    "ste": "sainte",
    "pl": "platz",
}
# Compound words ending in an abbreviated "strasse": "Bahnhofstr." -> "bahnhofstrasse".
_STR_SUFFIX = re.compile(r"(\w{3,})str\b")
# Punctuation, including the typographic apostrophe and dashes (U+00B4, U+2019, U+2013, U+2014).
_SEPARATORS = re.compile("[\\s,.;:()\\[\\]'\"`\u00b4\u2019\\-\u2013\u2014_/+&]+")


def fold(text: str) -> str:
    """Case-folded, accents removed, ``ß`` as ``ss``: "Zürich" -> "zurich"."""
    if text.isascii():  # most names: nothing to decompose
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.casefold().replace("ß", "ss"))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@lru_cache(maxsize=262_144)  # national data repeats names a lot; this halves the name stages
def normalise(name: str) -> str:
    """One canonical spelling: folded, punctuation as spaces, abbreviations expanded.

    >>> normalise("Zürich, Bhf.")
    'zurich bahnhof'
    """
    words = _SEPARATORS.sub(" ", fold(name)).split()
    out = []
    for word in words:
        word = _TOKEN_CANON.get(word, word)
        if "str" in word:
            word = _STR_SUFFIX.sub(r"\1strasse", word)
        out.append(word)
    return " ".join(out)


def split_municipality(name: str) -> tuple[str, str]:
    """("Zürich", "Bahnhof") for "Zürich, Bahnhof"; ("", name) when there is no comma."""
    municipality, comma, stop = name.partition(",")
    if not comma or not stop.strip():
        return "", name.strip()
    return municipality.strip(), stop.strip()


def _bilingual(text: str) -> list[str]:
    """Each language's spelling of a "Biel/Bienne" style name, plus the name as written."""
    spellings = [text]
    if "/" not in text:
        return spellings
    parts = [p.strip() for p in re.split(r"\s*/\s*", text) if p.strip()]
    if len(parts) == 2:
        # "Biel/Bienne, Bahnhof": the slash joins two single place words; the rest is shared.
        left_words, right_words = parts[0].split(), parts[1].split()
        if left_words and right_words:
            prefix, first = left_words[:-1], left_words[-1]
            second, suffix = right_words[0], right_words[1:]
            spellings.append(" ".join([*prefix, first, *suffix]))
            spellings.append(" ".join([*prefix, second, *suffix]))
    return spellings


@lru_cache(maxsize=262_144)
def name_variants(name: str, *, stop_part: bool = True) -> frozenset[str]:
    """Every canonical form ``name`` may be compared under: the full name, each language of a
    bilingual name and, with ``stop_part``, the stop without its municipality prefix.

    ATLAS names use ``stop_part=True`` (OSM ``name`` often omits the municipality); OSM names
    use ``False`` so that "Bern, Bahnhof" never matches "Zürich, Bahnhof" through "Bahnhof".
    """
    if not name.strip():
        return frozenset()
    raw = [name.replace(",", " ")]
    if stop_part:
        raw.append(split_municipality(name)[1])
    variants: set[str] = set()
    for text in raw:
        for spelling in _bilingual(text):
            canonical = normalise(spelling)
            if canonical:
                variants.add(canonical)
    return frozenset(variants)
