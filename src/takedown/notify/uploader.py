"""The short text the platform shows the uploader with a statement of reasons, in the
uploader's language (the platform sends it as `author_language` with the content;
English when it does not): what was done, why, and how to appeal (DSA Art. 17(3)(f)).
Never who reported it."""

from __future__ import annotations

from datetime import date

from takedown.domain.vocabulary import ActionKind, Category
from takedown.notify.i18n import gettext_for, supported


def uploader_category(category: Category | None, language: str) -> str:
    _ = gettext_for(language)
    return {
        Category.CHILD_SEXUAL_ABUSE: _("child sexual abuse material"),
        Category.NON_CONSENSUAL_INTIMATE_IMAGERY: _(
            "intimate images shared without the consent of the person shown"),
        Category.OTHER_ILLEGAL: _("illegal content"),
    }.get(category or Category.TERMS_VIOLATION, _("content that breaks the platform's rules"))


def uploader_notice(kind: ActionKind, mode: str, category: Category | None,
                    author_language: str | None, puid: str,
                    appeal_until: date | None) -> dict[str, str]:
    """{"language", "text"} for the uploader. `mode` is the statement's (see
    legal.statements): a provisional restriction is said to be provisional."""
    language = supported(author_language) or "en"
    _ = gettext_for(language)
    what = uploader_category(category, language)
    if kind is ActionKind.RESTORE:
        text = _("Your content has been restored: on appeal, a person reviewed the earlier "
                 "decision and reversed it.")
    elif mode == "provisional":
        text = _("Your content has been hidden while a person reviews whether it is "
                 "%(what)s. This is provisional: you will be told the outcome, and it is "
                 "shown again if no violation is found.") % {"what": what}
    elif kind is ActionKind.RESTRICT:
        text = _("Your content has been hidden because it was found to be %(what)s.") % {
            "what": what}
    else:
        text = _("Your content has been removed because it was found to be %(what)s.") % {
            "what": what}
    if appeal_until is not None and mode != "provisional" and kind is not ActionKind.RESTORE:
        text += " " + _("If you think this is wrong, you can appeal until %(date)s through "
                        "the platform, quoting %(puid)s. A person who did not take this "
                        "decision will review it.") % {"date": appeal_until.isoformat(),
                                                       "puid": puid}
    text += " " + _("Statement of reasons: %(puid)s.") % {"puid": puid}
    return {"language": language, "text": text}


def appeal_news(status: str, language: str, reason: str | None = None) -> str:
    """An appeal's state in plain words, for either side (the uploader through the
    platform, a reporter by e-mail): received, or decided, with the reviewer's reason
    (DSA Art. 20(5): a reasoned decision)."""
    _ = gettext_for(language)
    text = {
        "upheld": _("Your appeal was reviewed by a person who did not take the first "
                    "decision. The decision stands."),
        "reversed": _("Your appeal was successful: the decision was reversed."),
        "refused": _("Your appeal was not taken up because it was found manifestly "
                     "unfounded."),
    }.get(status, _("We received your appeal. A person who did not take the first decision "
                    "will review it, and you will be told the outcome."))
    if reason and status in ("upheld", "refused"):
        text += " " + _("The reviewer's reason: %(reason)s") % {"reason": reason}
    return text


def appeal_notice(status: str, author_language: str | None,
                  reason: str | None = None) -> dict[str, str]:
    """What the uploader is told when their appeal is decided."""
    language = supported(author_language) or "en"
    return {"language": language, "text": appeal_news(status, language, reason)}
