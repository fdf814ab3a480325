"""The words every other part of takedown shares."""

from __future__ import annotations

from enum import StrEnum


class Category(StrEnum):
    """What a report says is wrong with the content."""

    CHILD_SEXUAL_ABUSE = "child_sexual_abuse"
    NON_CONSENSUAL_INTIMATE_IMAGERY = "non_consensual_intimate_imagery"
    OTHER_ILLEGAL = "other_illegal"
    TERMS_VIOLATION = "terms_violation"


class Relation(StrEnum):
    """The reporter's relation to the content."""

    DEPICTED_PERSON = "depicted_person"
    PARENT_GUARDIAN = "parent_guardian"
    LAW_ENFORCEMENT = "law_enforcement"
    TRUSTED_FLAGGER = "trusted_flagger"
    OTHER_USER = "other_user"


class Role(StrEnum):
    MODERATOR = "moderator"
    CHILD_SAFETY_SPECIALIST = "child_safety_specialist"
    LIAISON = "liaison"
    ADMIN = "admin"


class ActionKind(StrEnum):
    """What takedown asks the platform to do."""

    RESTRICT = "restrict"
    REMOVE = "remove"
    RESTORE = "restore"
    SUSPEND = "suspend"
    # Keep the account's records (it posted confirmed child-abuse material) for the
    # legal hold, and send them to takedown (PUT /v1/accounts/{id}) for the report.
    PRESERVE_ACCOUNT = "preserve_account"
    # Lift a suspension this case caused: its decision was reversed on appeal.
    REINSTATE = "reinstate"
    # Tell the uploader how their appeal was decided (the text is in the action).
    APPEAL_DECIDED = "appeal_decided"


class Outcome(StrEnum):
    """What a reviewer decides. The first two close a case; the others keep it open."""

    VIOLATION = "violation"
    NO_VIOLATION = "no_violation"
    ESCALATE = "escalate"
    REQUEST_INFORMATION = "request_information"

    @property
    def closes(self) -> bool:
        return self in (Outcome.VIOLATION, Outcome.NO_VIOLATION)


class CaseStatus(StrEnum):
    OPEN = "open"
    AWAITING_SECOND_REVIEW = "awaiting_second_review"
    CLOSED_VIOLATION = "closed_violation"
    CLOSED_NO_VIOLATION = "closed_no_violation"

    @property
    def is_closed(self) -> bool:
        return self in (CaseStatus.CLOSED_VIOLATION, CaseStatus.CLOSED_NO_VIOLATION)


class ModerationState(StrEnum):
    """takedown's view of one content item on the platform."""

    VISIBLE = "visible"
    RESTRICTED = "restricted"
    REMOVED = "removed"


class MediaVia(StrEnum):
    """How a media file joined a case."""

    REPORTED = "reported"  # the only file of a reported post
    BANK = "bank"  # matched a hash bank
    REVIEWER = "reviewer"  # a reviewer named it as abusive
    COPY = "copy"  # an exact or perceptual copy of a file that joined another way


class ScreeningVerdict(StrEnum):
    """The content API's answer to a registration."""

    ALLOW = "allow"
    RESTRICT = "restrict"
    BLOCK = "block"


# Roles that may act on child-safety cases. Admins hold every right.
CHILD_SAFETY_ROLES = frozenset({Role.CHILD_SAFETY_SPECIALIST, Role.ADMIN})

# Confirmed cases of these categories are reported to NCMEC's CyberTipline (18 U.S.C.
# 2258A applies to apparent child sexual abuse material), with their uploaders'
# accounts preserved and their evidence sealed.
REPORTED_TO_NCMEC = frozenset({Category.CHILD_SEXUAL_ABUSE})
