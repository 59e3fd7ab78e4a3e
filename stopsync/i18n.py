"""Languages of the web pages: German, French, Italian and English (Flask-Babel).

The locale of a request is, in order: a supported ``?lang=`` (remembered in the session), the
language remembered earlier, the best ``Accept-Language`` match, English. An unsupported
``?lang=`` is ignored rather than refused: a shared link must never break a page.

Only the interface is translated. Official names and other data values are shown as
published (DOMAIN.md §6).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from flask import Flask, request, session
from flask_babel import format_decimal, get_locale

from .extensions import babel

# Code -> the language's own name (what the switcher shows: a reader finds their language).
LANGUAGES: dict[str, str] = {"en": "English", "de": "Deutsch", "fr": "Français", "it": "Italiano"}
DEFAULT_LANGUAGE = "en"
# The locale each language formats numbers in: Swiss conventions for the national languages.
FORMAT_LOCALES: dict[str, str] = {"en": "en", "de": "de_CH", "fr": "fr_CH", "it": "it_CH"}
SESSION_KEY = "lang"
QUERY_PARAMETER = "lang"


def request_language() -> str:
    """The language code of this request (see the module docstring for the order)."""
    requested = request.args.get(QUERY_PARAMETER)
    if requested in LANGUAGES:
        session[SESSION_KEY] = requested
        return requested
    remembered = session.get(SESSION_KEY)
    if remembered in LANGUAGES:
        return str(remembered)
    # By the browser's preference order, on the primary tag: "it-CH" means Italian even when a
    # lower-ranked "fr" would match exactly (werkzeug's best_match prefers exact matches).
    for value, _quality in request.accept_languages:
        primary = value.split("-")[0].split("_")[0].lower()
        if primary in LANGUAGES:
            return primary
    return DEFAULT_LANGUAGE


def select_locale() -> str:
    # Babel finds the ``de`` catalogue for ``de_CH``: gettext falls back from region to language.
    return FORMAT_LOCALES[request_language()]


def current_language() -> str:
    locale = get_locale()
    return locale.language if locale is not None else DEFAULT_LANGUAGE


def current_bcp47() -> str:
    """The locale as browsers name it (``de-CH``), for ``Intl.NumberFormat`` in the scripts."""
    locale = get_locale()
    if locale is None:
        return DEFAULT_LANGUAGE
    return f"{locale.language}-{locale.territory}" if locale.territory else locale.language


def language_url(code: str) -> str:
    """This page in another language: the same query string with ``lang`` replaced."""
    args = [(key, value) for key, value in request.args.items(multi=True) if key != QUERY_PARAMETER]
    args.append((QUERY_PARAMETER, code))
    return f"{request.path}?{urlencode(args)}"


def number(value: int | float | Decimal) -> str:
    """A number in the reader's locale: ``12'345.5`` (de_CH, it_CH), ``12'345,5`` (fr_CH), ``12,345.5`` (en)."""
    return str(format_decimal(value))


def _template_globals() -> dict[str, Any]:
    return {"languages": LANGUAGES, "current_language": current_language, "current_bcp47": current_bcp47,
            "language_url": language_url}


def init_i18n(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LANGUAGE)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", "translations")
    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.globals.update(_template_globals())
    app.jinja_env.filters["number"] = number
