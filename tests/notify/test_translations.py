"""Every message a reporter sees exists in German, French and Spanish: the messages the
code and templates use are extracted as `make catalogues` extracts them (babel.cfg, the
`n_` plural keyword), and each catalogue must translate every one, keep its
placeholders, and render real e-mails in its language once compiled.

After adding or changing a message: `make catalogues`, translate the new entries in
src/takedown/locale/{de,fr,es}/LC_MESSAGES/takedown.po, and run this test."""

from __future__ import annotations

import re
import string
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from babel.util import pathmatch

from takedown.domain.case import CaseState
from takedown.domain.takeitdown import TakeItDownRequest
from takedown.domain.vocabulary import CaseStatus, Category
from takedown.notify import i18n, mail
from takedown.notify.reporter import Tally, reporter_status, timeline

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ROOT / "src" / "takedown"  # what the Makefile's `catalogues` extracts from
LOCALE = SOURCES / "locale"
TRANSLATED = ("de", "fr", "es")
PLURAL_FORMS = {"de": "nplurals=2; plural=(n != 1);", "fr": "nplurals=2; plural=(n > 1);",
                "es": "nplurals=2; plural=(n != 1);"}
KEYWORDS = {**DEFAULT_KEYWORDS, "n_": (1, 2)}  # the Makefile's `-k n_:1,2`

BRACES = re.compile(r"\{[^{}]*\}")
PERCENT = re.compile(r"%\(\w+\)s|%%|%")  # a lone % breaks a template's newstyle gettext
MARKUP = re.compile(r"[<>&]")  # a template's translation is inserted unescaped in HTML


@dataclass
class Extracted:
    """One message the code or a template uses, and where."""

    msgid: str
    plural: str | None
    places: list[str] = field(default_factory=list)

    @property
    def in_template(self) -> bool:
        return any(not place.split(":")[0].endswith(".py") for place in self.places)

    @property
    def in_html(self) -> bool:
        return any(place.split(":")[0].endswith(".html") for place in self.places)


def _mapping() -> tuple[list[tuple[str, str]], dict[str, dict[str, Any]]]:
    with (ROOT / "babel.cfg").open() as config:
        method_map, options_map = parse_mapping_cfg(config)  # type: ignore[no-untyped-call]
    return list(method_map), dict(options_map)


def _extract() -> dict[str, Extracted]:
    method_map, options_map = _mapping()
    found: dict[str, Extracted] = {}
    for filename, lineno, message, _comments, context in extract_from_dir(
            SOURCES, method_map, options_map, keywords=KEYWORDS):
        assert context is None, f"{filename}:{lineno}: message contexts are not used"
        singular, plural = ((message[0], message[1]) if isinstance(message, tuple | list)
                            else (message, None))
        entry = found.setdefault(singular, Extracted(singular, plural))
        assert entry.plural == plural, f"{singular!r}: one message, two plural forms"
        entry.places.append(f"{filename}:{lineno}")
    return found


@pytest.fixture(scope="module")
def extracted() -> dict[str, Extracted]:
    return _extract()


def _catalogue(language: str) -> Catalog:
    with (LOCALE / language / "LC_MESSAGES" / "takedown.po").open("rb") as po:
        return read_po(po, locale=language)


@pytest.fixture(scope="module")
def catalogues() -> dict[str, Catalog]:
    return {language: _catalogue(language) for language in TRANSLATED}


def _forms(message: Message) -> list[str]:
    return list(message.string) if isinstance(message.string, tuple | list) \
        else [message.string or ""]


def _translations(catalogue: Catalog) -> Iterator[Message]:
    yield from (message for message in catalogue if message.id)


# -- 1. every message is translated ------------------------------------------------------

# A source uses the reporter's language when it calls _() or n_() on a literal, asks
# notify.i18n for a gettext, or (a template) has {% trans %} or _() / gettext() in it.
PYTHON_USES = re.compile(r"(?<![\w.])n?_\(\s*[rbuRBU]*[\"']|\bn?gettext_for\(")
TEMPLATE_USES = re.compile(r"\{%-?\s*trans\b|\b_\(|\bn?gettext\(")


def test_extraction_reads_every_source_that_translates() -> None:
    """A file that speaks the reporter's language but that babel.cfg does not name is
    never extracted, and its messages stay in English whatever the catalogues hold."""
    method_map, _options = _mapping()
    unread = []
    for path in sorted(SOURCES.rglob("*")):
        relative = path.relative_to(SOURCES).as_posix()
        if not path.is_file() or relative.startswith("locale/") or "__pycache__" in relative:
            continue
        if path.suffix == ".py":
            uses = PYTHON_USES.search(path.read_text(encoding="utf-8")) is not None
            if relative == "notify/i18n.py":  # defines gettext_for; has no message
                uses = False
        elif "templates" in path.parts and path.suffix in (".html", ".txt"):
            uses = TEMPLATE_USES.search(path.read_text(encoding="utf-8")) is not None
        else:
            continue
        if uses and not any(pathmatch(pattern, relative) for pattern, method in method_map
                            if method != "ignore"):
            unread.append(relative)
    assert not unread, ("these files translate messages but babel.cfg does not extract "
                        f"them (patterns are relative to src/takedown): {unread}")


def test_extraction_finds_the_messages_in_use(extracted: dict[str, Extracted]) -> None:
    places = {place.split(":")[0] for entry in extracted.values() for place in entry.places}
    for source in ("notify/reporter.py", "notify/mail.py", "cases/views.py",
                   "notify/templates/receipt.txt", "notify/templates/receipt.html",
                   "notify/templates/decision.subject.txt", "notify/templates/question.txt"):
        assert source in places, f"no message extracted from {source}"
    plural = extracted["The post and {copies} copy were removed."]
    assert plural.plural == "The post and {copies} copies were removed."  # n_() is read
    with_variable = ("Your request is complete under the US TAKE IT DOWN Act. The image "
                     "must come down by %(deadline)s.")
    assert with_variable in extracted  # {% trans deadline=... %}


def test_every_message_is_translated(extracted: dict[str, Extracted],
                                     catalogues: dict[str, Catalog]) -> None:
    problems = []
    with (LOCALE / "takedown.pot").open("rb") as pot:
        template = read_po(pot)
    for entry in extracted.values():
        if template.get(entry.msgid) is None:
            problems.append(f"takedown.pot: lacks {entry.msgid!r} ({entry.places[0]}); "
                            "run `make catalogues`")
    for language, catalogue in catalogues.items():
        if catalogue.fuzzy:
            problems.append(f"{language}: the catalogue's header is fuzzy (not compiled)")
        if catalogue.plural_forms != PLURAL_FORMS[language]:
            problems.append(f"{language}: Plural-Forms is {catalogue.plural_forms!r}, "
                            f"not {PLURAL_FORMS[language]!r}")
        for entry in extracted.values():
            where = f"{language}: {entry.msgid!r} ({', '.join(entry.places)})"
            message = catalogue.get(entry.msgid)
            if message is None:
                problems.append(f"{where}: missing")
                continue
            plural = message.id[1] if isinstance(message.id, tuple | list) else None
            forms = _forms(message)
            if plural != entry.plural:
                problems.append(f"{where}: plural is {plural!r} in the catalogue, "
                                f"{entry.plural!r} in the code")
            elif entry.plural is not None and len(forms) != catalogue.num_plurals:
                problems.append(f"{where}: {len(forms)} plural forms, not "
                                f"{catalogue.num_plurals}")
            if not all(form.strip() for form in forms):
                problems.append(f"{where}: untranslated")
            if message.fuzzy:
                problems.append(f"{where}: fuzzy")
    assert not problems, "\n".join(["untranslated messages:", *problems])


def test_the_catalogues_compile_without_errors(catalogues: dict[str, Catalog]) -> None:
    problems = [f"{language}: {message.id!r}: {error}"
                for language, catalogue in catalogues.items()
                for message, errors in catalogue.check() for error in errors]
    assert not problems, "\n".join(problems)


# -- 2. placeholders survive translation -------------------------------------------------


def test_translations_keep_the_placeholders(extracted: dict[str, Extracted],
                                            catalogues: dict[str, Catalog]) -> None:
    problems = []
    for language, catalogue in catalogues.items():
        for message in _translations(catalogue):
            ids = list(message.id) if isinstance(message.id, tuple | list) else [message.id]
            source = extracted.get(ids[0])
            braces = sorted(set().union(*(BRACES.findall(text) for text in ids)))
            # A plural's forms may each use the count (%(num)d) or not, as the English
            # singular and plural differ: each form keeps to the placeholders of its ids.
            percents = sorted(PERCENT.findall(ids[0]))
            allowed = set().union(*(PERCENT.findall(text) for text in ids))
            for index, form in enumerate(_forms(message)):
                if not form:
                    continue  # untranslated: the test above names it
                where = f"{language}: {ids[0]!r} (form {index})"
                if sorted(set(BRACES.findall(form))) != braces:
                    problems.append(f"{where}: placeholders {BRACES.findall(form)}, "
                                    f"not {braces}: {form!r}")
                if braces:
                    try:
                        list(string.Formatter().parse(form))
                    except ValueError as error:
                        problems.append(f"{where}: str.format fails ({error}): {form!r}")
                used = PERCENT.findall(form)
                wrong = not set(used) <= allowed or not set(percents) <= set(used) \
                    if len(ids) > 1 else sorted(used) != percents
                if ("python-format" in message.flags or (source and source.in_template)) \
                        and wrong:
                    problems.append(f"{where}: % placeholders {PERCENT.findall(form)}, "
                                    f"not {percents} (write a literal % as %%): {form!r}")
                if source and source.in_html and \
                        sorted(MARKUP.findall(form)) != sorted(MARKUP.findall(ids[0])):
                    problems.append(f"{where}: <, > or & that the English lacks (inserted "
                                    f"into HTML unescaped): {form!r}")
    assert not problems, "\n".join(problems)


# -- 3. real renderings ------------------------------------------------------------------

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
STATUS_URL = "https://takedown.example/report/r-1?token=s3cret"


@pytest.fixture
def compiled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The catalogues compiled as `make translations` compiles them, into a temporary
    locale directory that notify.i18n reads for the test (so a stale .mo in the tree
    cannot hide a broken .po)."""
    assert (i18n.locale_dir() / "takedown.pot").is_file(), \
        "notify.i18n does not read the directory the catalogues are in"
    for language in TRANSLATED:
        target = tmp_path / language / "LC_MESSAGES"
        target.mkdir(parents=True)
        with (target / "takedown.mo").open("wb") as mo:
            write_mo(mo, _catalogue(language))
    monkeypatch.setattr(i18n, "locale_dir", lambda: tmp_path)
    i18n.translations.cache_clear()
    i18n.environment.cache_clear()
    yield tmp_path
    i18n.translations.cache_clear()
    i18n.environment.cache_clear()


def _receipt(language: str, take_it_down: TakeItDownRequest | None) -> tuple[str, str, str]:
    return mail.render("receipt", language, report_id="r-1",
                       category=Category.NON_CONSENSUAL_INTIMATE_IMAGERY.value,
                       references=["https://platform.example/p/42"], received_at=NOW,
                       status_url=STATUS_URL, take_it_down=take_it_down)


def _decision(language: str, tally: Tally) -> tuple[str, str, str]:
    told = reporter_status(CaseState(status=CaseStatus.CLOSED_VIOLATION), "r-1", tally,
                           language)
    return mail.render("decision", language, report_id="r-1",
                       category=Category.CHILD_SEXUAL_ABUSE.value,
                       references=["https://platform.example/p/42"], received_at=NOW,
                       status=told.status, message=told.message)


def _question(language: str) -> tuple[str, str, str]:
    return mail.render("question", language, report_id="r-1",
                       category=Category.CHILD_SEXUAL_ABUSE.value,
                       question="Where did you see it?", answer_urls=[])


def test_the_compiled_catalogues_load(compiled: Path) -> None:
    for language in TRANSLATED:
        assert isinstance(i18n.translations(language), Translations), language


def test_the_receipt_in_german(compiled: Path) -> None:
    valid = TakeItDownRequest(True, (), NOW + timedelta(hours=48))
    subject, text, html = _receipt("de", valid)
    assert subject == "Wir haben Ihre Meldung erhalten"
    for body in (text, html):
        assert "Ihre Meldung ist sicher gespeichert." in body
        assert "Was Sie gemeldet haben: intime Bilder, die ohne Einverständnis geteilt " \
               "wurden" in body
        assert "Das Bild muss bis 2026-03-03 12:00 UTC entfernt sein." in body
        assert "TAKE IT DOWN Act" in body
        assert STATUS_URL in body.replace("&amp;", "&")
    assert '<html lang="de">' in html


def test_the_receipt_in_french_with_an_incomplete_request(compiled: Path) -> None:
    subject, text, html = _receipt("fr", TakeItDownRequest(False, ("signature",), None))
    assert subject == "Nous avons bien reçu votre signalement"
    for body in (text, html):
        assert "Il manque encore à votre demande" in body
        assert "images intimes partagées sans consentement" in body
        assert "Ne nous envoyez jamais les images elles-mêmes." in body


def test_a_question_in_spanish(compiled: Path) -> None:
    subject, text, html = _question("es")
    assert subject == "Su denuncia: la persona que la revisa necesita más información"
    for body in (text, html):
        assert "Where did you see it?" in body  # the reviewer's words, as written
        assert "No le pediremos más imágenes del contenido." in body


@pytest.mark.parametrize(("language", "one", "many"), [
    ("de", "Der Beitrag und 1 Kopie wurden entfernt.",
     "Der Beitrag und 3 Kopien wurden entfernt."),
    ("fr", "La publication et 1 copie ont été retirées.",
     "La publication et 3 copies ont été retirées."),
    ("es", "La publicación y 1 copia han sido retiradas.",
     "La publicación y 3 copias han sido retiradas."),
])
def test_decisions_count_in_each_language(compiled: Path, language: str, one: str,
                                          many: str) -> None:
    assert one in _decision(language, Tally(items=2, done=2))[1]
    _subject, text, html = _decision(language, Tally(items=4, done=4, reported_to_ncmec=True))
    assert many in text
    assert "National Center for Missing &amp; Exploited Children (NCMEC)" in html
    assert "National Center for Missing & Exploited Children (NCMEC)" in text


def test_the_status_page_speaks_the_language(compiled: Path) -> None:
    assert timeline([], "r-1", NOW, "fr") == [
        {"at": NOW, "text": "Nous avons bien reçu votre signalement."}]
    _ = i18n.gettext_for("es")
    assert _("We received your report and are adding it to the review queue.") != \
        "We received your report and are adding it to the review queue."


@pytest.mark.parametrize("language", TRANSLATED)
def test_no_english_is_left_in_an_email(compiled: Path, extracted: dict[str, Extracted],
                                        language: str) -> None:
    """Every e-mail, in each of its forms, says none of its sentences in English."""
    english = [entry.msgid for entry in extracted.values() if entry.in_template]
    english += [mail.category_label(category.value, "en") for category in Category]
    rendered = [
        *_receipt(language, TakeItDownRequest(True, (), NOW)),
        *_receipt(language, TakeItDownRequest(False, ("signature",), None)),
        *_question(language),
        *_decision(language, Tally(items=3, done=1, blocked=True)),
    ]
    for category in Category:
        rendered.append(mail.category_label(category.value, language))
    left = sorted({sentence for sentence in english for body in rendered
                   if sentence.replace("'", "&#39;") in body or sentence in body})
    assert not left, f"{language}: still in English: {left}"
