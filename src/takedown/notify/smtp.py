"""Sending e-mail: the mail relay named by one URL (`TAKEDOWN_SMTP_URL`), and one message
sent to it with the standard library.

    smtp://host:25                      plain SMTP (AUTH when credentials are given)
    smtp+starttls://user:pass@host:587  STARTTLS required, then AUTH
    smtps://user:pass@host:465          TLS from the first byte, then AUTH

User and password are percent-encoded in the URL. Error messages here never quote the
URL or any part of it that might hold the password: they end up in logs and on outbox
rows.
"""

from __future__ import annotations

import smtplib
import ssl
from contextlib import suppress
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Literal
from urllib.parse import SplitResult, unquote, urlsplit

Security = Literal["plain", "starttls", "tls"]

# scheme: (security, default port)
SCHEMES: dict[str, tuple[Security, int]] = {
    "smtp": ("plain", 25),
    "smtp+starttls": ("starttls", 587),
    "smtps": ("tls", 465),
}


class SmtpUrlError(ValueError):
    """The SMTP URL cannot be used; the message names the problem, never the password."""


class SmtpSecurityError(smtplib.SMTPException):
    """The relay cannot give the security the URL asks for; nothing was sent."""


@dataclass(frozen=True)
class SmtpEndpoint:
    host: str
    port: int
    security: Security = "plain"
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    def redact(self, text: str) -> str:
        """`text` with the password blanked: a last guard before an error is stored."""
        return text.replace(self.password, "***") if self.password else text


def parse_smtp_url(url: str) -> SmtpEndpoint:
    """The endpoint a URL names; SmtpUrlError when it is malformed or not SMTP."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise SmtpUrlError(f"unknown SMTP URL scheme {scheme!r}: use smtp://, "
                           "smtp+starttls:// or smtps://")
    security, default_port = SCHEMES[scheme]
    # A '/', '?' or '#' left unencoded in a password ends the host part early: say so
    # rather than try to guess what was meant.
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise SmtpUrlError("the SMTP URL has a path, query or fragment; percent-encode "
                           "'/', '?', '#', ':' and '@' in the user and password")
    if not parts.hostname:
        raise SmtpUrlError("the SMTP URL has no host")
    username, password = _credentials(parts.username, parts.password)
    return SmtpEndpoint(parts.hostname, _port(parts, default_port), security,
                        username, password)


def _port(parts: SplitResult, default: int) -> int:
    # urlsplit's own message quotes the text after the last ':', which is the password
    # when its '@' or '/' was left unencoded: replace it, outside its `except`.
    try:
        port = parts.port
    except ValueError:
        port = -1
    if port is None:
        return default
    if not 0 < port < 65536:
        raise SmtpUrlError("the port in the SMTP URL is not a number from 1 to 65535")
    return port


def _credentials(user: str | None, password: str | None) -> tuple[str | None, str | None]:
    if user is None and password is None:
        return None, None
    if not user or not password:
        raise SmtpUrlError("the SMTP URL needs both a user and a password, or neither")
    try:
        user, password = unquote(user, errors="strict"), unquote(password, errors="strict")
    except UnicodeDecodeError:
        raise SmtpUrlError("the user or password in the SMTP URL is not percent-encoded "
                           "UTF-8") from None
    # smtplib encodes AUTH as ASCII: anything else would fail at every send, with an
    # error quoting a character of the password.
    if not (user.isascii() and password.isascii()):
        raise SmtpUrlError("the user and password in the SMTP URL must be ASCII")
    return user, password


def send_mail(endpoint: SmtpEndpoint, ca_file: Path | None, timeout: float,
              message: EmailMessage) -> None:
    """Send one message; raises OSError or smtplib.SMTPException when it was not sent."""
    client = _connect(endpoint, ca_file, timeout)
    try:
        _secure_and_log_in(client, endpoint, ca_file)
        client.send_message(message)
        # The relay has accepted it: a lost goodbye must not have it sent twice.
        with suppress(OSError, smtplib.SMTPException):
            client.quit()
    finally:
        client.close()


def _tls_context(ca_file: Path | None) -> ssl.SSLContext:
    # With a CA file, only that (private) CA is trusted; else the system's trust store.
    return ssl.create_default_context(cafile=str(ca_file) if ca_file else None)


def _connect(endpoint: SmtpEndpoint, ca_file: Path | None, timeout: float) -> smtplib.SMTP:
    if endpoint.security == "tls":
        return smtplib.SMTP_SSL(endpoint.host, endpoint.port, timeout=timeout,
                                context=_tls_context(ca_file))
    return smtplib.SMTP(endpoint.host, endpoint.port, timeout=timeout)


def _secure_and_log_in(client: smtplib.SMTP, endpoint: SmtpEndpoint,
                       ca_file: Path | None) -> None:
    client.ehlo_or_helo_if_needed()
    if endpoint.security == "starttls":
        if not client.has_extn("starttls"):
            # Never fall back to plain text: the password (and the mail) would travel
            # in the clear, and a stripped STARTTLS is what an attacker in the path does.
            raise SmtpSecurityError(
                f"{endpoint.host}:{endpoint.port} does not offer STARTTLS, which the "
                "SMTP URL requires; nothing was sent")
        client.starttls(context=_tls_context(ca_file))
        client.ehlo()  # what is offered is asked again once encrypted
    if endpoint.username is not None and client.has_extn("auth"):
        client.login(endpoint.username, endpoint.password or "")
