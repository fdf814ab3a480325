"""The languages reporters and uploaders are answered in: English, German, French and
Spanish, from gettext catalogues (src/takedown/locale/<lang>/LC_MESSAGES/takedown.po,
compiled to .mo by `make install`; `make catalogues` extracts new messages).

Which language: the one chosen explicitly (a page's language picker), else the
report's `language`, else the browser's Accept-Language, else English.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from importlib import resources
from pathlib import Path

from babel.support import NullTranslations, Translations
from jinja2 import Environment, FileSystemLoader, select_autoescape

LANGUAGES = ("en", "de", "fr", "es")
DEFAULT = "en"
# Each language named in itself, for the picker.
NAMES = {"en": "English", "de": "Deutsch", "fr": "Français", "es": "Español"}
DOMAIN = "takedown"


def locale_dir() -> Path:
    return Path(str(resources.files("takedown") / "locale"))


def supported(tag: str | None) -> str | None:
    """The supported language a BCP 47 tag asks for ("de-AT" -> "de"), or None."""
    if not tag:
        return None
    primary = tag.strip().replace("_", "-").split("-")[0].lower()
    return primary if primary in LANGUAGES else None


def from_accept_language(header: str | None) -> str | None:
    """The best supported language of an Accept-Language header, by its q-values."""
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate((header or "").split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        language = supported(tag)
        if language and quality > 0:
            ranked.append((-quality, index, language))
    return min(ranked)[2] if ranked else None


def negotiate(explicit: str | None = None, report_language: str | None = None,
              accept_language: str | None = None) -> str:
    return (supported(explicit) or supported(report_language)
            or from_accept_language(accept_language) or DEFAULT)


@cache
def translations(language: str) -> NullTranslations:
    """The compiled catalogue (English, the source language, needs none)."""
    if language == DEFAULT or language not in LANGUAGES:
        return NullTranslations()
    return Translations.load(str(locale_dir()), [language], DOMAIN)


def gettext_for(language: str) -> Callable[[str], str]:
    return translations(language).gettext


def ngettext_for(language: str) -> Callable[[str, str, int], str]:
    return translations(language).ngettext


@cache
def environment(templates: str, language: str) -> Environment:
    """A Jinja2 environment over a template directory, translating into `language`
    ({% trans %}, _(), ngettext()): a whole environment per (directory, language), not
    an overlay, since overlays share their parent's globals (gettext) and template
    cache, and a page would come out in whichever language loaded it first."""
    env = Environment(loader=FileSystemLoader(templates), autoescape=select_autoescape(
        ["html", "xml"], default_for_string=False), extensions=["jinja2.ext.i18n"])
    # New-style gettext: {% trans x=… %} formats after translating, so a translation may
    # move the placeholder.
    env.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
    env.globals["language"] = language
    return env
