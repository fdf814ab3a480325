"""Request and response bodies. Every field says what it means: they become the
OpenAPI document at /openapi.json."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

import httpx
from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, model_validator
from pydantic_core import PydanticCustomError

from takedown.cases.intake import ReportSubmission
from takedown.domain.appeals import AppealOutcome
from takedown.domain.vocabulary import (
    ActionKind,
    CaseStatus,
    Category,
    MediaVia,
    ModerationState,
    Outcome,
    Relation,
    ScreeningVerdict,
)


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("must include a timezone, e.g. 2020-01-20T10:00:00Z")
    return value


AwareDatetime = Annotated[datetime, AfterValidator(_aware)]

# --- what may enter: every string and integer from a request -----------------------
# Bounds are those of the columns the values end up in (store/tables.py), so that a
# value the database would refuse is a 422 naming the field rather than a 500.

# Row ids are 32-bit INTEGER columns: PostgreSQL refuses a query with a larger number
# outright. Such an id is invalid (422), not merely unknown: no row can ever have it.
MAX_ID = 2**31 - 1
# Views and shares are BIGINT, but cases add up their items' counters (SQLite's SUM
# raises on 64-bit overflow): a trillion is ~100x the most-viewed video ever.
MAX_COUNTER = 10**12
# Paging past the largest possible table (ids are 32-bit) finds nothing anyway.
MAX_OFFSET = MAX_ID

RowId = Annotated[int, Field(ge=1, le=MAX_ID)]  # as a parameter: Annotated[RowId, Path()]
Counter = Annotated[int, Field(ge=0, le=MAX_COUNTER)]

# C0 controls other than tab, newline and CR: PostgreSQL cannot store NUL, and the rest
# are never text a person wrote. Lone surrogates (JSON allows "\ud800") cannot be
# encoded as UTF-8 by either database driver (pydantic refuses them in JSON already).
_UNSTORABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")


def storable(value: str) -> str:
    """`value`, if both databases can store it as text; else a validation error."""
    found = _UNSTORABLE.search(value)
    if found is not None:
        raise PydanticCustomError(
            "unstorable_character",
            "contains U+{code} at position {position}: control characters other than tab, "
            "newline and carriage return, and unpaired surrogates, are not accepted",
            {"code": f"{ord(found.group()):04X}", "position": found.start()})
    return value


def fetchable(value: str) -> str:
    """`value`, if it is a URL that httpx (which fetches media URLs) can parse."""
    try:
        url = httpx.URL(value)
    except (httpx.InvalidURL, ValueError) as exc:  # ValueError: IDNA's own errors
        raise PydanticCustomError("url_invalid", "not a valid URL: {reason}",
                                  {"reason": str(exc)}) from None
    if not url.host:
        raise PydanticCustomError("url_invalid", "not a valid URL: it names no host")
    return value


# Every string a request carries (bodies, query, path, headers) is `Checked`: a `Text`
# or one of the types below (tests/api/test_hostile_input.py finds any bare str). They
# list their constraints before the check, flat: so that pydantic says "at most 35
# characters", and FastAPI keeps the check in a Path, Query or Header parameter
# (`Annotated[Id, Path(...)]`, `Id | None = Query(None, ...)`; `Text = Path(...)` loses
# it). `Documented` tells clients (and schemathesis) the rule as a pattern; `storable`
# enforces it, naming the character.
Checked = AfterValidator(storable)
Documented = Field(json_schema_extra={
    "pattern": "^[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f]*$"})
Text = Annotated[str, Checked, Documented]
Id = Annotated[str, Field(min_length=1, max_length=200), Checked, Documented]
Url = Annotated[str, Field(max_length=2000, pattern=r"^https?://[^\s\x00-\x1f\x7f]+$",
                           json_schema_extra={"format": "uri"}),
                Checked, AfterValidator(fetchable)]
# BCP 47-ish: a 2-3 letter language and subtags; the column holds 35 characters.
Language = Annotated[str, Field(max_length=35, pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$"),
                     Checked]
CaseNumber = Annotated[str, Field(min_length=1, max_length=100), Checked, Documented]
# Idempotency keys (stored) and status tokens (hashed).
Key = Annotated[str, Field(min_length=1, max_length=200), Checked, Documented]
ReportIdText = Annotated[str, Field(min_length=1, max_length=36), Checked, Documented]
Sha256 = Annotated[str, Field(pattern="^[0-9a-f]{64}$"), Checked]  # and reporter keys


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- platform -------------------------------------------------------------------


class MediaIn(Strict):
    # Not a Text: megabytes long, and decoding it (validate=True) refuses any character
    # outside base64's alphabet.
    data_base64: str | None = Field(None, description="The file's bytes, base64-encoded.")
    url: Url | None = Field(None, description="An http(s) URL takedown fetches the file from, "
                                              "with a size cap and a timeout.")

    @model_validator(mode="after")
    def _one_source(self) -> MediaIn:
        if (self.data_base64 is None) == (self.url is None):
            raise ValueError("give exactly one of data_base64 and url")
        return self


class ContentIn(Strict):
    content_id: Id = Field(description="The platform's id for the item; unique per platform.")
    author_id: Id = Field(description="The platform's id of the account that posted it.")
    created_at: AwareDatetime = Field(description="When it was posted (with timezone).")
    text: Text = Field("", max_length=100_000, description="The item's text, if any.")
    url: Url | None = Field(None, description="The item's public URL; reports may name it.")
    media: list[MediaIn] = Field(default_factory=list, max_length=20,
                                 description="Attached images or videos.")
    repost_of: Id | None = Field(None, description="The content id this item reposts.")
    quote_of: Id | None = Field(None, description="The content id this item quotes.")
    author_language: Language | None = Field(
        None, description="The uploader's language (BCP 47, e.g. `de` or `fr-BE`): the short "
                    "text that comes with a statement of reasons is written in it (English, "
                    "German, French or Spanish; English otherwise).")


class MediaOut(BaseModel):
    sha256: str = Field(description="SHA-256 of the file, hex.")
    md5: str = Field(description="MD5 of the file, hex (for exchanges that still use it).")
    size: int = Field(description="Size in bytes.")
    mime: str | None = Field(description="Type sniffed from the file's bytes.")


class ContentOut(BaseModel):
    content_id: str = Field(description="The platform's id for the item.")
    verdict: ScreeningVerdict = Field(
        description="`allow`: publish. `restrict`: keep hidden (a copy of content under "
                    "review). `block`: do not publish (matches confirmed violating content).")
    case_id: int | None = Field(description="The case behind a restrict or block verdict.")
    reason: str | None = Field(description="Why, for restrict and block.")
    created: bool = Field(description="False when the item was registered before; the first "
                                      "registration stands.")
    media: list[MediaOut] = Field(description="Exact hashes of each media file.")


class ContentStateOut(BaseModel):
    content_id: str = Field(description="The platform's id for the item.")
    moderation_state: ModerationState = Field(description="What takedown has asked for.")
    case_id: int | None = Field(description="The case whose action set that state, or "
                                            "else the newest case about the item.")
    views: int = Field(description="Last reported view count.")
    shares: int = Field(description="Last reported share count.")


class ReachItem(Strict):
    content_id: Id = Field(description="The platform's id for the item.")
    views: Counter = Field(description="Total views so far (a counter, not a delta).")
    shares: Counter = Field(0, description="Total shares so far.")
    observed_at: AwareDatetime | None = Field(
        None, description="When the counters were read, on the platform's clock; defaults to "
                          "now. Older observations than the last one are ignored.")


class ReachIn(Strict):
    updates: list[ReachItem] = Field(
        min_length=1, max_length=10_000,
        description="Counters for one or more items. The body, like every body but content "
                    "registration's, is limited to `max_json_bytes` (1 MiB by default: "
                    "about 5,000 updates with short ids).")


class ReachOut(BaseModel):
    updated: int = Field(description="How many items' counters changed.")
    unknown: list[str] = Field(description="Content ids takedown does not know.")


# --- reports --------------------------------------------------------------------


class ReportIn(Strict):
    content_ids: list[Id] = Field(default_factory=list, max_length=100,
                                  description="Ids of the reported items on the platform.")
    urls: list[Url] = Field(default_factory=list, max_length=100,
                            description="URLs of the reported items.")
    platform: Text | None = Field(None, max_length=100,
                                 description="The platform's name, where takedown serves more "
                                             "than one.")
    category: Category = Field(description="What is wrong with the content.")
    reporter_relation: Relation = Field(
        description="Who the reporter is to the content: the depicted person, a parent or "
                    "guardian, law enforcement, a trusted flagger, or another user.")
    depicted_minor: bool | None = Field(None, description="Is the depicted person a minor?")
    age_at_time: int | None = Field(None, ge=0, le=130,
                                    description="The depicted person's age when it was made.")
    age_now: int | None = Field(None, ge=0, le=130, description="Their age now.")
    case_numbers: list[CaseNumber] = Field(
        default_factory=list, max_length=20, description="Law-enforcement case numbers.")
    text: Text = Field("", max_length=20_000, description="Anything the reporter wants to add.")
    contact_email: EmailStr | None = Field(
        None, description="Where to write to the reporter. Optional: reports may be anonymous. "
                          "Never shown to the reported account.")
    language: Language = Field("en", description="The reporter's language (BCP 47, at most "
                                                "35 characters), for replies.")
    reporter_account: Annotated[Text, Field(min_length=1, max_length=200)] | None = Field(
        None, description="The reporter's account id on the platform, so that one account's "
                          "reports are known as one reporter's. Only with the platform's "
                          "`X-Api-Key` (else 401); never shown to the reported account.")
    signature: Annotated[Text, Field(max_length=200)] | None = Field(
        None, description="TAKE IT DOWN Act: the depicted person's (or their representative's) "
                          "electronic signature: their full name, typed.")
    good_faith_statement: bool | None = Field(
        None, description="TAKE IT DOWN Act: true states in good faith that the intimate "
                          "image was published without the depicted person's consent.")

    def submission(self, reporter_platform: int | None = None) -> ReportSubmission:
        """The report as the intake takes it; `reporter_platform`: the platform whose API
        key came with it (it vouches for `reporter_account`)."""
        return ReportSubmission(
            category=self.category, relation=self.reporter_relation,
            content_ids=self.content_ids, urls=self.urls, platform=self.platform,
            depicted_minor=self.depicted_minor, age_at_time=self.age_at_time,
            age_now=self.age_now, case_numbers=self.case_numbers, text=self.text,
            contact_email=str(self.contact_email) if self.contact_email else None,
            language=self.language, reporter_platform=reporter_platform,
            reporter_account=self.reporter_account, signature=self.signature,
            good_faith_statement=self.good_faith_statement)

    @model_validator(mode="after")
    def _names_content(self) -> ReportIn:
        if not self.content_ids and not self.urls:
            raise ValueError("name at least one item in content_ids or urls")
        if self.age_at_time is not None and self.age_now is not None \
                and self.age_now < self.age_at_time:
            raise ValueError("age_now is below age_at_time")
        return self


class ReferenceOut(BaseModel):
    kind: Literal["content_id", "url"] = Field(description="What the reporter named.")
    value: str = Field(description="The id or URL as given.")
    resolved: bool = Field(description="Whether takedown knows this item.")
    problem: str | None = Field(description="Why it is not resolved.")


class ReportReceiptOut(BaseModel):
    report_id: str = Field(description="The report's id.")
    status_token: str = Field(description="Secret that lets the reporter read the report's "
                                          "status; shown only here.")
    received_at: datetime = Field(description="When the report was stored.")
    references: list[ReferenceOut] = Field(description="Each named item, and whether it "
                                                       "resolved.")


class TakeItDownOut(BaseModel):
    valid: bool = Field(description="Whether the request holds all the Act asks.")
    missing: list[str] = Field(description="What it lacks (field names): reporter_relation "
                                           "(the depicted person or someone for them), content, "
                                           "good_faith_statement, signature, contact_email.")
    deadline: datetime | None = Field(description="48 hours from a valid request; null until "
                                                  "it is complete.")
    removed_at: datetime | None = Field(
        None, description="When the platform acknowledged removing the depiction and its "
                          "known identical copies (valid requests).")
    met: bool | None = Field(None, description="Whether that came within the 48 hours; null "
                                               "while the clock runs.")


class TimelineStepOut(BaseModel):
    at: datetime = Field(description="When.")
    text: str = Field(description="What happened, in plain words.")


class ReporterAppealOut(BaseModel):
    appeal_id: str = Field(description="The appeal's id.")
    status: str = Field(description="open, upheld, reversed or refused.")
    created_at: datetime = Field(description="When it was lodged.")
    decided_at: datetime | None = Field(description="When it was decided.")
    reason: str | None = Field(description="The reviewer's reason, once decided.")


class ReportStatusOut(BaseModel):
    report_id: str = Field(description="The report's id.")
    received_at: datetime = Field(description="When it was stored.")
    status: Literal["received", "restricted", "information_requested",
                    "awaiting_second_review", "action_taken", "no_violation",
                    "set_aside"] = Field(description="Where the report stands.")
    message: str = Field(description="What that means, in plain words.")
    question: str | None = Field(None, description="With `information_requested`: what the "
                                                   "reviewer asks.")
    updated_at: datetime = Field(description="When the case last changed.")
    take_it_down: TakeItDownOut | None = Field(
        None, description="For intimate imagery: whether this is a valid TAKE IT DOWN Act "
                          "request, and its 48-hour deadline.")
    language: str = Field("en", description="The language of `message` and `timeline`: the "
                                            "report's, where takedown speaks it (en, de, fr, "
                                            "es), else English.")
    timeline: list[TimelineStepOut] = Field(
        default_factory=list, description="What has happened since the report, with dates, "
                                          "in the words the status page uses.")
    appeals: list[ReporterAppealOut] = Field(
        default_factory=list, description="The reporter's appeals against a dismissal.")
    appeal_until: datetime | None = Field(
        None, description="After a dismissal: until when it can be appealed "
                          "(POST /v1/reports/{report_id}/appeals).")


class InformationIn(Strict):
    text: Text = Field(min_length=1, max_length=20_000,
                      description="The answer to the reviewer's question, or anything to add. "
                                  "Never attach or link images of abuse.")
    case_numbers: list[CaseNumber] = Field(
        default_factory=list, max_length=20,
        description="Law-enforcement case numbers, if there are (more) of them.")


# --- moderation -----------------------------------------------------------------


class DecisionIn(Strict):
    outcome: Outcome = Field(description="`violation` or `no_violation` (these close the "
                                         "case), `escalate` or `request_information` (ask "
                                         "the reporter; these keep it open).")
    reason: Text | None = Field(None, max_length=300,
                               description="One of the policy's reasons for this outcome "
                                           "(`[reasons]` in the policy file).")
    category: Category | None = Field(None, description="The category found, if it differs "
                                                         "from the reported one.")
    notes: Text = Field("", max_length=20_000, description="The reviewer's notes (never "
                                                          "shown to the reporter).")
    question: Text | None = Field(None, max_length=2_000,
                                 description="With `request_information`: the question for the "
                                             "reporters, sent to them as written (default: "
                                             "the reason).")
    media: list[Sha256] | None = Field(
        None, max_length=1000,
        description="With `violation`: the files (SHA-256, as the case lists them) confirmed "
                    "as abusive. Only they are banked, only items carrying them (or copies "
                    "of them) are removed, only their uploaders suspended. Default: the "
                    "case's files, i.e. what was reported or matched and its copies; a "
                    "reported post with several files none of which matched needs the "
                    "list (422 `abusive_media_required`); `[]` confirms no file (the text "
                    "is the violation).")


class BulkDecisionIn(DecisionIn):
    media: None = Field(None, description="Not taken here: each case's own files are "
                                          "confirmed (decide one case to name files).")
    case_ids: list[RowId] = Field(
        min_length=1, max_length=500, description="The cases to decide alike.")


class BulkDecisionResult(BaseModel):
    case_id: int = Field(description="The case.")
    status: CaseStatus | None = Field(description="Its status after the decision.")
    error: str | None = Field(description="Why this case was not decided.")


class DecisionOut(BaseModel):
    case_id: int = Field(description="The case.")
    status: CaseStatus = Field(description="The case's status after the decision.")
    appended: list[str] = Field(description="The event types the decision appended; a first "
                                            "child-safety dismissal appends only "
                                            "`dismissal_proposed`.")
    actions_requested: int = Field(description="Platform actions the decision created.")


class ClaimOut(BaseModel):
    case_id: int = Field(description="The case.")
    claimed_by: str | None = Field(description="Who holds it.")
    claimed_until: datetime | None = Field(description="When the claim expires.")


class CaseSummaryOut(BaseModel):
    id: int = Field(description="The case id.")
    status: CaseStatus = Field(description="Derived from the case's events.")
    category: Category | None = Field(description="The most severe category reported, or the "
                                                  "one decided.")
    priority: float = Field(description="severity x credibility x reach; higher first.")
    deadline: datetime | None = Field(description="When a human must have acted.")
    seconds_left: int | None = Field(description="Until the deadline; negative when overdue.")
    restricted: bool = Field(description="Whether the content is hidden pending review.")
    escalations: int = Field(description="Times the case has escalated past its deadline.")
    claimed_by: str | None = Field(description="Who is working on it now, if anyone.")
    claimed_until: datetime | None = Field(description="When that claim expires.")
    created_at: datetime = Field(description="When the first report arrived.")
    updated_at: datetime = Field(description="When the last event was appended.")


class CaseReportOut(BaseModel):
    id: str = Field(description="Report id.")
    created_at: datetime = Field(description="When it was received.")
    category: Category = Field(description="Category the reporter chose.")
    relation: Relation = Field(description="Reporter's relation to the content.")
    depicted_minor: bool | None = Field(description="Reporter says the person is a minor.")
    age_at_time: int | None = Field(description="Age when the media was made.")
    age_now: int | None = Field(description="Age now.")
    case_numbers: list[str] = Field(description="Law-enforcement case numbers.")
    text: str = Field(description="Reporter's text, verbatim (escape before display).")
    contact_email: str | None = Field(description="Reporter's contact, for reviewers only.")
    language: str = Field(description="Reporter's language.")
    references: list[ReferenceOut] = Field(description="What the report named.")
    invalidated: str | None = Field(description="Why the report was set aside (its reporter "
                                                "was marked abusive); null while it counts.")
    answers: list[AnswerOut] = Field(description="What the reporter added since, oldest "
                                                 "first.")
    reporter: ReporterBriefOut = Field(description="Who sent it, as far as reviewers need.")


class AnswerOut(BaseModel):
    at: datetime = Field(description="When it arrived.")
    text: str = Field(description="Verbatim (escape before display).")
    case_numbers: list[str] = Field(description="Case numbers given with it.")


class ReporterBriefOut(BaseModel):
    key: str = Field(description="The reporter's key: a hash of their contact address, or "
                                 "of the report id for anonymous reports.")
    abusive: bool = Field(description="Whether the reporter is marked abusive.")
    reports: int = Field(description="Reports from this reporter, on any case.")


class CaseContentOut(BaseModel):
    content_id: str = Field(description="Platform's id.")
    platform: str | None = Field(description="Platform name.")
    author_id: str = Field(description="Account that posted it.")
    url: str | None = Field(description="Public URL.")
    parent_kind: Literal["repost", "quote"] | None = Field(description="Repost or quote of "
                                                                       "parent_id.")
    parent_id: str | None = Field(description="What it reposts or quotes.")
    views: int = Field(description="Views.")
    shares: int = Field(description="Shares.")
    moderation_state: ModerationState = Field(description="What takedown asked for.")
    reported: bool = Field(description="Named by a report (otherwise a repost or copy).")


class CaseEventOut(BaseModel):
    seq: int = Field(description="Position in the case's log, from 1.")
    type: str = Field(description="Event type.")
    at: datetime = Field(description="When it was appended.")
    actor: str | None = Field(description="Reviewer who caused it, if any.")
    data: dict[str, Any] = Field(description="Event details.")


class ActionCountOut(BaseModel):
    kind: ActionKind = Field(description="Action type.")
    status: Literal["pending", "delivered", "failing"] = Field(description="Delivery state.")
    count: int = Field(description="How many.")


class CaseMediaOut(BaseModel):
    sha256: str = Field(description="The file's SHA-256.")
    mime: str | None = Field(description="Type sniffed from its bytes.")
    item_count: int = Field(description="How many of the case's items carry it.")
    via: MediaVia | None = Field(description="How the file joined the case: `reported` (a "
                                             "reported post's only file), `bank` (matched a "
                                             "hash bank), `copy` (an exact or perceptual copy "
                                             "of one of the case's files), `reviewer` (named "
                                             "by a reviewer); null: it did not join (another "
                                             "file of a post with several), and a violation "
                                             "leaves it alone unless a reviewer names it.")
    copy_of: str | None = Field(description="For a copy: the file it copies.")
    distance: int | None = Field(description="For a copy: PDQ bits from that file.")
    bank: str | None = Field(description="For a bank match: the bank.")
    confirmed: bool = Field(description="Confirmed as abusive by the decision.")
    suggested: bool = Field(description="Among the files a violation confirms by default: "
                                        "those a trusted report, a bank match or a reviewer "
                                        "brought, and their copies (else those the valid "
                                        "reports name).")


class CaseDetailOut(CaseSummaryOut):
    specialists_queue: bool = Field(description="In the specialists' queue (child-safety or "
                                                "escalated).")
    information_requested: bool = Field(description="Waiting for the reporters' answer.")
    question: str | None = Field(description="What they were asked.")
    reports: list[CaseReportOut] = Field(description="Every report, oldest first.")
    media: list[CaseMediaOut] = Field(description="Every file of the items the case reaches, "
                                                  "and how each joined it.")
    content_total: int = Field(description="Items the case reaches: reported items, every "
                                           "item carrying one of its files (exact or "
                                           "perceptual copies), and every repost and quote of "
                                           "those.")
    content: list[CaseContentOut] = Field(description="Those items (the first 1,000).")
    events: list[CaseEventOut] = Field(description="The case's whole history.")
    actions: list[ActionCountOut] = Field(description="Platform actions by type and delivery "
                                                      "state.")


class ActionTargetOut(BaseModel):
    type: Literal["content", "account"] = Field(description="What the action is on.")
    id: str = Field(description="The platform's id for it.")


class ActionOut(BaseModel):
    action_id: str = Field(description="Unique; the platform deduplicates on it.")
    case_id: int | None = Field(description="The case behind it.")
    type: ActionKind = Field(description="restrict, remove, restore or suspend.")
    target: ActionTargetOut = Field(description="What to act on.")
    status: Literal["pending", "delivered", "failing"] = Field(
        description="`failing` is retried with exponential backoff until delivered.")
    attempts: int = Field(description="Delivery attempts so far.")
    last_error: str | None = Field(description="Why the last attempt failed.")
    created_at: datetime = Field(description="When the action was decided.")
    next_attempt_at: datetime | None = Field(description="When it is tried next.")
    delivered_at: datetime | None = Field(description="When the platform acknowledged it.")


# --- reporters ------------------------------------------------------------------


class ReporterOut(BaseModel):
    reporter_key: str = Field(description="The reporter's key (see a case's reports).")
    abusive: bool = Field(description="Marked abusive: their reports count for nothing.")
    reason: str | None = Field(description="Why they were marked.")
    marked_by: str | None = Field(description="Who marked them.")
    marked_at: datetime | None = Field(description="When.")
    reports: int = Field(description="Their reports, on any case.")
    open_reports: int = Field(description="Of those, on cases still open.")


class MarkAbusiveIn(Strict):
    reason: Text = Field(min_length=1, max_length=500,
                        description="Why: kept with the mark, on each invalidated report and "
                                    "in the audit log.")


class MarkOut(ReporterOut):
    reports_changed: int = Field(description="Reports invalidated (mark) or reinstated "
                                             "(unmark).")
    cases_touched: int = Field(description="Open cases those reports were on.")
    cases_set_aside: int = Field(description="Cases closed because no valid report was left "
                                             "(never a child-safety case).")


# --- the law: CyberTipline reports, evidence, preserved accounts -------------------

class IpEventIn(Strict):
    ip: Annotated[str, Field(min_length=2, max_length=45, pattern=r"^[0-9A-Fa-f:.]+$"),
                  Checked] = Field(
        description="An IPv4 or IPv6 address the account used.")
    at: AwareDatetime | None = Field(None, description="When (with a time zone).")
    event: Literal["Login", "Registration", "Purchase", "Upload", "Other",
                   "Unknown"] | None = Field(None, description="What the account did then.")


class AccountIn(Strict):
    """What the platform keeps about an account it was asked to preserve. Only what the
    platform knows; every field may be left out."""

    screen_name: Annotated[Text, Field(max_length=200)] | None = Field(
        None, description="The account's user name on the platform.")
    display_names: list[Annotated[Text, Field(max_length=200)]] = Field(
        default_factory=list, max_length=20, description="Names it shows besides.")
    emails: list[EmailStr] = Field(default_factory=list, max_length=20,
                                   description="E-mail addresses on the account.")
    profile_urls: list[Annotated[Text, Field(max_length=2000)]] = Field(
        default_factory=list, max_length=20, description="Its profile pages.")
    ip_events: list[IpEventIn] = Field(
        default_factory=list, max_length=200,
        description="IP addresses it used, with when and what for (uploads, logins).")
    additional_info: Annotated[Text, Field(max_length=5000)] | None = Field(
        None, description="Anything else the platform keeps and wants NCMEC to know.")


class TiplineEditIn(Strict):
    """The fields a specialist chooses; those left out stay as they are."""

    incident_type: Annotated[Text, Field(max_length=100)] | None = Field(
        None, description="One of the incident types NCMEC's schema names.")
    annotations: list[Annotated[Text, Field(max_length=60)]] | None = Field(
        None, max_length=10, description="e.g. sextortion, minorToMinorInteraction.")
    summary: Annotated[Text, Field(max_length=10_000)] | None = Field(
        None, description="Free text for NCMEC (additionalInfo).")
    escalate_reason: Annotated[Text, Field(max_length=2000)] | None = Field(
        None, description="Why NCMEC should treat it as high priority; empty: do not.")


class RetractIn(Strict):
    reason: Text = Field(min_length=1, max_length=2000, description="Why: kept in the vault.")


class HoldIn(Strict):
    agency: Text = Field(min_length=1, max_length=300,
                         description="The requesting law-enforcement agency.")
    legal_process: Text = Field(min_length=1, max_length=300,
                                description="The legal process reference (e.g. a "
                                            "preservation request under 18 U.S.C. 2703(f)).")


class AppealIn(Strict):
    content_id: Id | None = Field(None, description="The platform's id of the item whose "
                                                    "removal or restriction is appealed.")
    statement_puid: Id | None = Field(None, description="Or the `puid` of the statement of "
                                                        "reasons the uploader received.")
    text: Text = Field(min_length=1, max_length=20_000,
                       description="The uploader's own words: why the decision is wrong.")
    language: Language | None = Field(None, description="The uploader's language (BCP 47).")

    @model_validator(mode="after")
    def _one_target(self) -> AppealIn:
        if (self.content_id is None) == (self.statement_puid is None):
            raise ValueError("give exactly one of content_id and statement_puid")
        return self


class ReporterAppealIn(Strict):
    text: Text = Field(min_length=1, max_length=20_000,
                       description="Why the dismissal is wrong. Never attach or link images "
                                   "of abuse.")


class AppealOut(BaseModel):
    appeal_id: str = Field(description="Follow it with GET /v1/appeals/{appeal_id}.")
    status: str = Field(description="`open`, `reversal_proposed` (a second child-safety "
                                    "specialist must confirm), `upheld`, `reversed` or "
                                    "`refused` (manifestly unfounded, DSA Art. 23).")
    appellant: str = Field(description="`uploader` or `reporter`.")
    created_at: datetime = Field(description="When it was lodged.")
    decided_at: datetime | None = Field(description="When it was decided.")
    reason: str | None = Field(description="The reviewer's reason, once decided.")
    statement_puid: str | None = Field(description="The statement of reasons it contests, "
                                                   "when the uploader named one.")
    language: str = Field(description="The appellant's language: what they are told in.")


class AppealDecisionIn(Strict):
    outcome: AppealOutcome = Field(description="`upheld`, `reversed`, or `refused` "
                                               "(manifestly unfounded; needs a reason).")
    reason: Text = Field("", max_length=5_000, description="Why; told to the appellant.")
