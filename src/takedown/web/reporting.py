"""The public pages for people who report (no account needed): /report (the form and
its receipt), /report/{id}?token= (where the report stands, and the answer to a
reviewer's question) and /report/hash (fingerprints of one's own pictures and videos,
computed on one's own device by static/report-hash.js with pdq.js: the file is never
sent). Server-rendered in the reporter's language (notify.i18n: chosen with ?lang=,
else the report's language, else Accept-Language, else English); their stylesheet and
script come from /report/static, since the pages' Content-Security-Policy allows no
inline code (api.security).

Every string a person reads is marked for translation, here and in
templates/public/; the form's own checks are the API's (api.schemas), with their
messages put in plain words beside the field they concern.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from importlib import resources
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from babel.dates import format_date, format_time, get_datetime_format
from fastapi import APIRouter, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import EmailStr, Field, ValidationError
from pydantic_core import PydanticCustomError
from starlette.datastructures import FormData

from takedown.api.deps import client_of, get_system
from takedown.api.schemas import (
    InformationIn,
    Language,
    ReporterAppealIn,
    ReportIn,
    Strict,
    storable,
)
from takedown.cases.intake import MAX_OWN_HASHES, ReportSubmission
from takedown.domain.vocabulary import Category, Relation
from takedown.errors import (
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    TakedownError,
    TooManyRequests,
)
from takedown.notify.i18n import (
    LANGUAGES,
    NAMES,
    environment,
    gettext_for,
    negotiate,
    ngettext_for,
    supported,
)
from takedown.notify.mail import category_label
from takedown.system import Takedown

STATIC = "/report/static"
TEMPLATES = str(resources.files("takedown.web") / "templates" / "public")
# Who may ask to block their own pictures by fingerprint: the person shown, or a parent.
OWN_RELATIONS = (Relation.DEPICTED_PERSON, Relation.PARENT_GUARDIAN)
# The report form's fields, by the API field a check names.
FORM_FIELD = {"content_ids": "content", "urls": "content", "platform": "content",
              "category": "category", "reporter_relation": "relation",
              "depicted_minor": "depicted_minor", "age_at_time": "age_at_time",
              "age_now": "age_now", "case_numbers": "case_numbers", "text": "text",
              "contact_email": "contact_email", "language": "language",
              "good_faith_statement": "good_faith_statement", "signature": "signature",
              "hashes": "own-files"}

router = APIRouter(prefix="/report", include_in_schema=False)


def install(app: FastAPI) -> None:
    """The public pages, and the static folder served again under /report: the public
    pages load nothing from /console."""
    static = resources.files("takedown.web") / "static"
    app.mount(STATIC, StaticFiles(directory=str(static)), name="report-static")
    app.include_router(router)


# --- rendering ------------------------------------------------------------------------


def typed(form: FormData, name: str) -> str:
    """A form field as typed ("" for an upload in its place): checked by the API's
    models afterwards, so that what is wrong with it is shown, never dropped."""
    value = form.get(name, "")
    return value if isinstance(value, str) else ""


def clean(value: object, limit: int) -> str:
    """A token, an id or a query parameter, or "" for one that no column could take
    (control characters, more than `limit` characters): it then names nothing."""
    if not isinstance(value, str) or len(value) > limit:
        return ""
    try:
        return storable(value)
    except PydanticCustomError:
        return ""


def explicit_language(request: Request) -> str | None:
    return supported(request.query_params.get("lang"))


def language_of(request: Request) -> str:
    return negotiate(explicit_language(request), None, request.headers.get("accept-language"))


def picker(request: Request, language: str) -> list[dict[str, Any]]:
    """This page in each language, its other query parameters kept (a platform's
    prefill, a status page's token)."""
    kept = [(k, v) for k, v in request.query_params.multi_items()
            if k not in ("lang", "answered")]
    return [{"code": code, "name": NAMES[code], "current": code == language,
             "href": f"{request.url.path}?{urlencode([*kept, ('lang', code)])}"}
            for code in LANGUAGES]


def when(value: datetime | str | None, language: str) -> str:
    """A time for a person, in their language; UTC, as the server knows no time zone."""
    moment = at(value)
    if moment is None:
        return ""
    moment = moment.astimezone(UTC)
    # The locale's own order of date and time, as babel.dates.format_datetime joins them.
    joined = str(get_datetime_format("medium", locale=language)).replace("'", "")
    return joined.replace("{0}", format_time(moment, "HH:mm", locale=language)).replace(
        "{1}", format_date(moment, "long", locale=language)) + " UTC"


def at(value: datetime | str | None) -> datetime | None:
    if value is None or value == "":
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # SQLite keeps UTC


def iso(value: datetime | str | None) -> str:
    moment = at(value)
    return moment.isoformat() if moment else ""


def render(request: Request, name: str, language: str, *, status_code: int = 200,
           headers: Mapping[str, str] | None = None, choose: bool = True,
           **context: Any) -> HTMLResponse:
    """A page; `choose`: with the language picker (not on a receipt: the status link it
    shows exists only in that answer)."""
    template = environment(TEMPLATES, language).get_template(name)
    html = template.render(picker=picker(request, language) if choose else None,
                           when=partial(when, language=language), iso=iso,
                           category_label=partial(category_label, language=language),
                           categories=[(c.value, category_label(c.value, language))
                                       for c in Category],
                           names=NAMES, **context)
    return HTMLResponse(html, status_code=status_code, headers=dict(headers or {}))


def wait_words(seconds: int, language: str) -> str:
    n_ = ngettext_for(language)
    if seconds < 60:
        return n_("{n} second", "{n} seconds", seconds).format(n=seconds)
    minutes = -(-seconds // 60)
    return n_("{n} minute", "{n} minutes", minutes).format(n=minutes)


def limited(request: Request, page: str, language: str, wait: int,
            **context: Any) -> HTMLResponse:
    """429: the form again, as typed, saying how long to wait."""
    return render(request, page, language, status_code=429,
                  headers={"Retry-After": str(wait)}, wait=wait_words(wait, language),
                  **context)


def not_found(request: Request, language: str) -> HTMLResponse:
    return render(request, "missing.html", language, status_code=404)


def lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def new_key() -> str:
    """An idempotency key per form shown: a form sent twice (a double tap, a retry after
    a lost answer) is stored once."""
    return secrets.token_urlsafe(18)


# --- the report form ------------------------------------------------------------------


@dataclass
class ReportForm:
    """The form's fields as typed, to show them again beside what is wrong."""

    content: str = ""  # links or the platform's ids, one a line
    platform: str = ""
    category: str = ""
    relation: str = ""
    depicted_minor: bool = False
    age_at_time: str = ""
    age_now: str = ""
    case_numbers: str = ""  # one a line
    text: str = ""
    contact_email: str = ""
    language: str = "en"
    signature: str = ""
    good_faith_statement: bool = False
    key: str = field(default_factory=new_key)

    @classmethod
    def read(cls, form: FormData, language: str) -> ReportForm:
        def text(name: str) -> str:
            return typed(form, name)

        return cls(content=text("content"), platform=text("platform"),
                   category=text("category"), relation=text("relation"),
                   depicted_minor=bool(form.get("depicted_minor")),
                   age_at_time=text("age_at_time").strip(), age_now=text("age_now").strip(),
                   case_numbers=text("case_numbers"), text=text("text"),
                   contact_email=text("contact_email").strip(),
                   language=supported(clean(text("language"), 35)) or language,
                   signature=text("signature"),
                   good_faith_statement=bool(form.get("good_faith_statement")),
                   key=clean(text("key"), 200) or new_key())

    def payload(self) -> dict[str, Any]:
        """The API's body for this form: ReportIn checks it as it checks the API's."""
        named = lines(self.content)
        urls = [n for n in named if n.lower().startswith(("http://", "https://"))]
        return {"content_ids": [n for n in named if n not in urls], "urls": urls,
                "platform": self.platform or None, "category": self.category or None,
                "reporter_relation": self.relation or None,
                "depicted_minor": True if self.depicted_minor else None,
                "age_at_time": self.age_at_time or None, "age_now": self.age_now or None,
                "case_numbers": lines(self.case_numbers), "text": self.text.strip(),
                "contact_email": self.contact_email or None, "language": self.language,
                "signature": self.signature.strip() or None,
                "good_faith_statement": True if self.good_faith_statement else None}


def report_words(form: ReportForm, language: str) -> dict[str, str]:
    """What to say beside each field of the report form that is wrong."""
    _ = gettext_for(language)
    return {
        "content": _("Please tell us where the content is: a link, or its id on the "
                     "platform.") if not lines(form.content) else
        _("Please check the links and ids: one on each line, links starting with "
          "https://, at most 100."),
        "category": _("Please choose what is wrong with the content."),
        "relation": _("Please choose who you are."),
        "depicted_minor": _("Please tick this box, or leave it empty."),
        "age_at_time": _("Please give an age in years, as a number from 0 to 130."),
        "age_now": _("Please give an age in years, as a number from 0 to 130."),
        "age_order": _("The age now cannot be lower than the age at the time."),
        "case_numbers": _("Please put one case number on each line: at most 20 numbers, "
                          "each up to 100 characters."),
        "text": _("Please make this text shorter (at most 20,000 characters), or remove "
                  "unusual characters."),
        "contact_email": _("This e-mail address does not look right. Please check it, or "
                           "leave it empty."),
        "language": _("Please choose a language."),
        "signature": _("Please type your name in at most 200 characters."),
        "good_faith_statement": _("Please tick this box, or leave it empty."),
    }


def report_problems(exc: ValidationError, form: ReportForm,
                    language: str) -> dict[str, str]:
    """Each field's first problem, in plain words (pydantic's are for programmers)."""
    words = report_words(form, language)
    problems: dict[str, str] = {}
    if not lines(form.content):  # ReportIn says so only once its fields are all valid
        problems["content"] = words["content"]
    for error in exc.errors():
        loc = error.get("loc", ())
        name = FORM_FIELD.get(str(loc[0]), "content") if loc else \
            ("age_order" if lines(form.content) else "content")
        problems.setdefault("age_now" if name == "age_order" else name,
                            words.get(name, words["content"]))
    order = list(FORM_FIELD.values())  # the summary lists them as the form does
    return dict(sorted(problems.items(), key=lambda item: order.index(item[0])))


def report_page(request: Request, language: str, form: ReportForm, *,
                problems: Mapping[str, str] | None = None, status_code: int = 200,
                **context: Any) -> HTMLResponse:
    return render(request, "report.html", language, status_code=status_code, form=form,
                  problems=problems or {}, relations=list(Relation), **context)


@router.get("")
def report_form(request: Request) -> HTMLResponse:
    """The form; a platform may link to it prefilled: ?platform=NAME&content=ID."""
    language = language_of(request)
    named = [clean(v, 2000) for v in request.query_params.getlist("content")][:100]
    form = ReportForm(content="\n".join(n for n in named if n),
                      platform=clean(request.query_params.get("platform", ""), 100),
                      language=language)
    return report_page(request, language, form)


@router.post("")
async def send_report(request: Request) -> Response:
    language = language_of(request)
    form = ReportForm.read(await request.form(max_files=0, max_fields=50), language)
    return await run_in_threadpool(store_report, request, language, form)


def store_report(request: Request, language: str, form: ReportForm) -> Response:
    _ = gettext_for(language)
    try:
        body = ReportIn.model_validate(form.payload())
    except ValidationError as exc:
        return report_page(request, language, form, status_code=422,
                           problems=report_problems(exc, form, language))
    system = get_system(request)
    try:
        system.report_limiter.admit(client_of(request), [*body.content_ids, *body.urls])
        _status, receipt = system.submit_report(
            body.submission(), form.key, body.model_dump(mode="json"))
    except TooManyRequests as exc:
        return limited(request, "report.html", language, exc.retry_after, form=form,
                       problems={}, relations=list(Relation))
    except NotFound:
        return report_page(request, language, form, status_code=422, problems={
            "content": _("We could not find this content. Please check the link or the "
                         "id, and that it is still online.")})
    except (Invalid, Conflict) as exc:
        return report_page(request, language, form, status_code=exc.status,
                           failure=failure_words(exc, language))
    return receipt_page(request, language, system, receipt, emailed=bool(form.contact_email))


def failure_words(exc: TakedownError, language: str) -> str:
    _ = gettext_for(language)
    if isinstance(exc, Conflict):
        return _("This form was sent already. To send another report, please open the "
                 "form again.")
    return _("Something in the form could not be stored. Please check it and send it "
             "again.")


def receipt_page(request: Request, language: str, system: Takedown,
                 receipt: dict[str, Any], *, emailed: bool, hashes: int = 0) -> HTMLResponse:
    """The only page that shows the status link (the e-mail carries it too): the token
    exists only in this answer."""
    report_id, token = receipt["report_id"], receipt["status_token"]
    path = f"/report/{report_id}?{urlencode({'token': token})}"
    status = system.report_status(report_id, token, language)
    return render(request, "receipt.html", language, choose=False, report_id=report_id,
                  status_path=path, status_url=f"{str(request.base_url).rstrip('/')}{path}",
                  received_at=receipt["received_at"], emailed=emailed, hashes=hashes,
                  unresolved=[r["value"] for r in receipt["references"] if not r["resolved"]],
                  category=status["category"], take_it_down=status["take_it_down"])


# --- fingerprints of one's own pictures -----------------------------------------------


class OwnHashIn(Strict):
    signal_type: Literal["pdq", "md5"]
    value: Annotated[str, Field(pattern="^([0-9a-f]{32}|[0-9a-f]{64})$")]
    quality: Annotated[int, Field(ge=0, le=100)] | None = None


class OwnHashesIn(Strict):
    """The hash page's form: intimate imagery, from the person shown or a parent."""

    reporter_relation: Literal["depicted_person", "parent_guardian"]
    contact_email: EmailStr | None = None
    language: Language = "en"
    hashes: list[OwnHashIn] = Field(min_length=1, max_length=MAX_OWN_HASHES)


@dataclass
class HashForm:
    relation: str = ""
    contact_email: str = ""
    language: str = "en"
    hashes: list[str] = field(default_factory=list)  # "pdq:<hex>:<quality>", "md5:<hex>"
    key: str = field(default_factory=new_key)

    @classmethod
    def read(cls, form: FormData, language: str) -> HashForm:
        return cls(relation=typed(form, "relation"),
                   contact_email=typed(form, "contact_email").strip(),
                   language=supported(clean(typed(form, "language"), 35)) or language,
                   hashes=[h for h in (clean(v, 200) for v in form.getlist("hash")) if h],
                   key=clean(typed(form, "key"), 200) or new_key())

    def payload(self) -> dict[str, Any]:
        return {"reporter_relation": self.relation or None,
                "contact_email": self.contact_email or None, "language": self.language,
                "hashes": [own_hash(h) for h in self.hashes]}


def own_hash(text: str) -> dict[str, Any]:
    """"pdq:<hex>:<quality>" or "md5:<hex>", as report-hash.js writes them."""
    kind, _, rest = text.partition(":")
    value, _, quality = rest.partition(":")
    entry: dict[str, Any] = {"signal_type": kind, "value": value.lower()}
    if quality:
        entry["quality"] = int(quality) if quality.isdigit() else quality
    return entry


def hash_problems(exc: ValidationError | Invalid, language: str) -> dict[str, str]:
    _ = gettext_for(language)
    plain = _("This picture is too plain to be recognised by its fingerprint. Please "
              "report the posts that show it instead.")
    words = {"own-files": _("Please choose your picture or video, and wait until it is "
                            "ready."),
             "relation": _("Please choose who you are."),
             "contact_email": _("This e-mail address does not look right. Please check "
                                "it, or leave it empty."),
             "language": _("Please choose a language.")}
    if isinstance(exc, Invalid):
        return {"own-files": {
            "hash_quality_too_low": plain,
            "too_many_hashes": _("Please choose at most {n} files at a time.").format(
                n=MAX_OWN_HASHES),
        }.get(exc.code, _("Something went wrong with the fingerprints. Please choose your "
                          "files again."))}
    problems: dict[str, str] = {}
    for error in exc.errors():
        name = FORM_FIELD.get(str(error.get("loc", ("hashes",))[0]), "own-files")
        problems.setdefault(name, words.get(name, words["own-files"]))
    return problems


def hash_page(request: Request, language: str, form: HashForm, *,
              problems: Mapping[str, str] | None = None, status_code: int = 200,
              **context: Any) -> HTMLResponse:
    return render(request, "hash.html", language, status_code=status_code, form=form,
                  problems=problems or {}, relations=list(OWN_RELATIONS), **context)


@router.get("/hash")
def hash_form(request: Request) -> HTMLResponse:
    language = language_of(request)
    return hash_page(request, language, HashForm(language=language))


@router.post("/hash")
async def send_hashes(request: Request) -> Response:
    language = language_of(request)
    form = HashForm.read(await request.form(max_files=0, max_fields=50), language)
    return await run_in_threadpool(store_hashes, request, language, form)


def store_hashes(request: Request, language: str, form: HashForm) -> Response:
    try:
        body = OwnHashesIn.model_validate(form.payload())
    except ValidationError as exc:
        return hash_page(request, language, form, status_code=422,
                         problems=hash_problems(exc, language))
    system = get_system(request)
    hashes = [h.model_dump(exclude_none=True) for h in body.hashes]
    sub = ReportSubmission(category=Category.NON_CONSENSUAL_INTIMATE_IMAGERY,
                           relation=Relation(body.reporter_relation),
                           contact_email=str(body.contact_email) if body.contact_email
                           else None, language=body.language, hashes=hashes)
    try:
        system.report_limiter.admit(client_of(request), [h["value"] for h in hashes])
        _status, receipt = system.submit_report(sub, form.key, body.model_dump(mode="json"))
    except TooManyRequests as exc:
        return limited(request, "hash.html", language, exc.retry_after, form=form,
                       problems={}, relations=list(OWN_RELATIONS))
    except Invalid as exc:
        return hash_page(request, language, form, status_code=422,
                         problems=hash_problems(exc, language))
    except Conflict as exc:
        return hash_page(request, language, form, status_code=409,
                         failure=failure_words(exc, language))
    return receipt_page(request, language, system, receipt, emailed=bool(sub.contact_email),
                        hashes=len(hashes))


# --- the status page (its routes, /report/{id}, come after /report/hash) ---------------


def status_page(request: Request, system: Takedown, report_id: str, token: str, *,
                answer: str = "", case_numbers: str = "",
                refused: ValidationError | None = None, conflict: Conflict | None = None,
                appeal_text: str = "", appeal_problems: dict[str, str] | None = None,
                status_code: int = 200) -> HTMLResponse:
    """Where a report stands, in the language chosen, else the report's; with the answer
    form as typed and what is wrong with it (`refused`), or why it was not taken."""
    explicit = explicit_language(request)
    try:
        status = system.report_status(report_id, token, explicit)
    except NotFound:
        return not_found(request, language_of(request))
    language = str(status["language"])
    query = {"lang": explicit} if explicit else {}
    return render(request, "status.html", language, status_code=status_code,
                  status=status, token=token, key=new_key(), answer=answer,
                  case_numbers=case_numbers,
                  failure=answer_refused(conflict, language) if conflict else "",
                  problems=answer_problems(refused, language) if refused else {},
                  action=f"/report/{report_id}?{urlencode(query)}".rstrip("?"),
                  appeal_action=f"/report/{report_id}/appeal?{urlencode(query)}".rstrip("?"),
                  appeal_text=appeal_text, appeal_problems=appeal_problems or {},
                  answered=request.query_params.get("answered") == "1",
                  appealed=request.query_params.get("appealed") == "1",
                  new_report=f"/report?{urlencode({'lang': language})}")


@router.get("/{report_id}")
def report_status(request: Request, report_id: str) -> Response:
    """Never limited: a reporter may look as often as they need."""
    token = clean(request.query_params.get("token", ""), 200)
    if not token or not clean(report_id, 36):
        return not_found(request, language_of(request))
    return status_page(request, get_system(request), report_id, token)


@router.post("/{report_id}")
async def answer_question(request: Request, report_id: str) -> Response:
    form = await request.form(max_files=0, max_fields=10)
    return await run_in_threadpool(
        store_answer, request, report_id, clean(typed(form, "token"), 200),
        typed(form, "answer"), typed(form, "answer_case_numbers"),
        clean(typed(form, "key"), 200) or None)


def store_answer(request: Request, report_id: str, token: str, answer: str,
                 case_numbers: str, key: str | None) -> Response:
    system = get_system(request)
    if not token or not clean(report_id, 36):
        return not_found(request, language_of(request))
    again = partial(status_page, request, system, report_id, token, answer=answer,
                    case_numbers=case_numbers)
    try:
        body = InformationIn(text=answer.strip(), case_numbers=lines(case_numbers))
    except ValidationError as exc:
        return again(status_code=422, refused=exc)
    try:
        system.provide_information(report_id, token, body.text, body.case_numbers, key,
                                   {"report_id": report_id, **body.model_dump(mode="json")})
    except NotFound:
        return not_found(request, language_of(request))
    except Conflict as exc:
        return again(status_code=409, conflict=exc)
    explicit = explicit_language(request)
    query = {"token": token, **({"lang": explicit} if explicit else {}), "answered": "1"}
    return RedirectResponse(f"/report/{report_id}?{urlencode(query)}", status_code=303)


@router.post("/{report_id}/appeal")
async def appeal_dismissal(request: Request, report_id: str) -> Response:
    form = await request.form(max_files=0, max_fields=10)
    return await run_in_threadpool(store_appeal, request, report_id,
                                   clean(typed(form, "token"), 200), typed(form, "appeal"))


def store_appeal(request: Request, report_id: str, token: str, text: str) -> Response:
    """A reporter asks for another review of a dismissal (DSA Art. 20)."""
    system = get_system(request)
    if not token or not clean(report_id, 36):
        return not_found(request, language_of(request))
    again = partial(status_page, request, system, report_id, token, appeal_text=text)
    language = language_of(request)
    try:
        body = ReporterAppealIn(text=text.strip())
    except ValidationError:
        _ = gettext_for(language)
        return again(status_code=422, appeal_problems={"appeal": _(
            "Please say why the decision is wrong (at most 20,000 characters).")})
    try:
        system.reporter_appeal(report_id, token, body.text)
    except NotFound:
        return not_found(request, language)
    except (Conflict, Forbidden) as exc:
        return again(status_code=exc.status, appeal_problems={
            "appeal": appeal_refused(exc, language)})
    explicit = explicit_language(request)
    query = {"token": token, **({"lang": explicit} if explicit else {}), "appealed": "1"}
    return RedirectResponse(f"/report/{report_id}?{urlencode(query)}", status_code=303)


def appeal_refused(exc: TakedownError, language: str) -> str:
    _ = gettext_for(language)
    if exc.code == "appeal_too_late":
        return _("The time to ask for another review of this decision has ended.")
    if exc.code == "appeals_suspended":
        return _("We cannot take more appeals from you for a while: several earlier ones "
                 "were found manifestly unfounded.")
    return _("This decision cannot be appealed here.")


def answer_refused(exc: Conflict, language: str) -> str:
    _ = gettext_for(language)
    if exc.code == "case_closed":
        return _("This report is closed now, so we cannot add your answer to it. If there "
                 "is something new, please send a new report.")
    return _("This answer was sent already. To add something else, please write it again.")


def answer_problems(exc: ValidationError, language: str) -> dict[str, str]:
    _ = gettext_for(language)
    words = {"text": _("Please write your answer here (at most 20,000 characters)."),
             "case_numbers": _("Please put one case number on each line: at most 20 "
                               "numbers, each up to 100 characters.")}
    problems: dict[str, str] = {}
    for error in exc.errors():
        name = str(error.get("loc", ("text",))[0])
        problems.setdefault("answer" if name == "text" else "answer_case_numbers",
                            words.get(name, words["text"]))
    return problems
