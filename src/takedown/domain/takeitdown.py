"""The US TAKE IT DOWN Act (47 U.S.C. 223a): when a removal request is a valid one,
which starts the Act's 48-hour clock. Pure rules, no I/O.

A valid request, as the Act lists it, carries: a physical or electronic signature of
the depicted person (or of someone authorised to act for them); an identification of
the intimate depiction and where it is; a brief statement of good faith that it was
published without consent; and contact information. A request missing any of them is
still a report, reviewed under the policy's deadline; only a complete one starts the
Act's clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from takedown.domain.vocabulary import Category, Relation

CLOCK = timedelta(hours=48)
# Intimate imagery: the Act's "intimate visual depictions". Child sexual abuse material
# is removed under shorter deadlines and reported to NCMEC whatever the request holds.
APPLIES_TO = frozenset({Category.NON_CONSENSUAL_INTIMATE_IMAGERY})
# The depicted person, or someone acting for them.
ON_THEIR_BEHALF = frozenset({Relation.DEPICTED_PERSON, Relation.PARENT_GUARDIAN})


@dataclass(frozen=True)
class TakeItDownRequest:
    valid: bool
    missing: tuple[str, ...]  # the API's field names, in the order the form asks them
    deadline: datetime | None  # received + 48 h, only for a valid request


def assess(category: Category, relation: Relation, *, signature: str | None,
           good_faith_statement: bool | None, names_content: bool,
           contact_email: str | None, received_at: datetime) -> TakeItDownRequest | None:
    """None where the Act does not apply (other categories)."""
    if category not in APPLIES_TO:
        return None
    missing = [name for name, present in (
        ("reporter_relation", relation in ON_THEIR_BEHALF),
        ("content", names_content),
        ("good_faith_statement", good_faith_statement is True),
        ("signature", bool(signature and signature.strip())),
        ("contact_email", bool(contact_email)),
    ) if not present]
    valid = not missing
    return TakeItDownRequest(valid, tuple(missing), received_at + CLOCK if valid else None)
