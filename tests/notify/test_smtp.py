"""E-mail through a real SMTP relay (aiosmtpd) named by TAKEDOWN_SMTP_URL: plain,
STARTTLS with AUTH against a private CA, implicit TLS; refused, never downgraded, when
STARTTLS is missing; retried through an outage; the password never in an error."""

from __future__ import annotations

import datetime as dt
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pydantic import ValidationError
from sqlalchemy import select, update

from takedown.clock import utcnow
from takedown.config import Settings
from takedown.notify.outbox import enqueue
from takedown.notify.smtp import SmtpEndpoint
from takedown.pipeline.escalation import NotificationSender
from takedown.server import free_port
from takedown.store.tables import NotificationRow
from takedown.system import Takedown
from tests.conftest import Inbox

USER, PASSWORD = "mailer@example.org", "s3cr:et@pw/x"
# As an operator writes them in the URL: percent-encoded.
CREDENTIALS = "mailer%40example.org:s3cr%3Aet%40pw%2Fx"


@dataclass(frozen=True)
class Tls:
    ca_file: Path  # what TAKEDOWN_SMTP_TLS_CA_FILE names
    server: ssl.SSLContext  # the relay's certificate, issued by that CA for 127.0.0.1


@dataclass
class Relay:
    inbox: Inbox
    port: int
    logins: list[str] = field(default_factory=list)  # users the relay accepted

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str,
                     auth_data: Any) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        ok = (auth_data.login.decode(), auth_data.password.decode()) == (USER, PASSWORD)
        if ok:
            self.logins.append(auth_data.login.decode())
        return AuthResult(success=ok, handled=False)  # aiosmtpd answers 535 when not ok


@contextmanager
def relay(port: int | None = None, **smtp_options: Any) -> Iterator[Relay]:
    """A real SMTP server on 127.0.0.1; `smtp_options` go to aiosmtpd's SMTP."""
    found = Relay(Inbox(), port or free_port())
    if smtp_options.get("auth_required"):
        smtp_options["authenticator"] = found.authenticate
    controller = Controller(found.inbox, hostname="127.0.0.1", port=found.port,
                            **smtp_options)
    controller.start()
    try:
        yield found
    finally:
        controller.stop()


@pytest.fixture(scope="session")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    folder = tmp_path_factory.mktemp("tls")
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "takedown test CA")])
    ca = _certificate(ca_name, ca_name, ca_key.public_key(), ca_key, ca=True)
    leaf = _certificate(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]),
                        ca_name, key.public_key(), ca_key, ca=False)
    ca_file, cert_file, key_file = folder / "ca.pem", folder / "relay.pem", folder / "relay.key"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_file, key_file)
    return Tls(ca_file, server)


def _certificate(subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey,
                 signer: ec.EllipticCurvePrivateKey, *, ca: bool) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
               .public_key(public_key).serial_number(x509.random_serial_number())
               .not_valid_before(now - timedelta(minutes=5))
               .not_valid_after(now + timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key),
                              critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                   signer.public_key()), critical=False))
    if ca:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, key_cert_sign=True, crl_sign=True,
            content_commitment=False, key_encipherment=False, data_encipherment=False,
            key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
    else:
        builder = (builder.add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(IPv4Address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False))
    return builder.sign(signer, hashes.SHA256())


def send(system: Takedown, settings: Settings, key: str = "hello") -> int:
    """Queue one e-mail as the service does, then one pass of the real sender."""
    with system.db.transaction() as s:
        enqueue(s, dedupe_key=key, channel="email", target="oncall@example.org",
                subject=f"[takedown] {key}", body={"text": "case 1 is overdue"})
    return NotificationSender(system.db, settings).run_once("worker")


def outbox(system: Takedown) -> list[tuple[str, str | None]]:
    with system.db.transaction() as s:
        return [(n.status, n.last_error) for n in s.scalars(select(NotificationRow))]


def test_plain_smtp_url_delivers(system: Takedown) -> None:
    with relay() as mx:
        settings = system.settings.with_(smtp_url=f"smtp://127.0.0.1:{mx.port}")
        assert send(system, settings) == 1
    assert outbox(system) == [("delivered", None)]
    [mail] = mx.inbox.messages
    assert mail["To"] == "oncall@example.org" and mail["Subject"] == "[takedown] hello"


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_plain_smtp_url_logs_in_when_the_relay_offers_auth(system: Takedown) -> None:
    with relay(auth_required=True, auth_require_tls=False) as mx:
        settings = system.settings.with_(smtp_url=f"smtp://{CREDENTIALS}@127.0.0.1:{mx.port}")
        assert send(system, settings) == 1
    assert outbox(system) == [("delivered", None)]
    assert mx.logins == [USER] and len(mx.inbox.messages) == 1


def test_starttls_with_auth_against_a_private_ca(system: Takedown, tls: Tls) -> None:
    with relay(tls_context=tls.server, require_starttls=True, auth_required=True) as mx:
        settings = system.settings.with_(
            smtp_url=f"smtp+starttls://{CREDENTIALS}@127.0.0.1:{mx.port}",
            smtp_tls_ca_file=tls.ca_file)
        assert send(system, settings) == 1
    assert outbox(system) == [("delivered", None)]
    assert mx.logins == [USER] and len(mx.inbox.messages) == 1


def test_a_wrong_password_fails_without_saying_it(system: Takedown, tls: Tls,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    wrong = "n0t-the%40pw"
    with relay(tls_context=tls.server, require_starttls=True, auth_required=True) as mx:
        settings = system.settings.with_(
            smtp_url=f"smtp+starttls://mailer%40example.org:{wrong}@127.0.0.1:{mx.port}",
            smtp_tls_ca_file=tls.ca_file)
        assert send(system, settings) == 1
    [(status, error)] = outbox(system)
    assert status == "failing" and error is not None and "SMTPAuthenticationError" in error
    for secret in ("n0t-the@pw", wrong, "n0t-the"):
        assert secret not in error and secret not in caplog.text
    assert mx.logins == [] and mx.inbox.messages == []


def test_the_system_trust_store_does_not_know_a_private_ca(system: Takedown,
                                                           tls: Tls) -> None:
    with relay(tls_context=tls.server, require_starttls=True, auth_required=True) as mx:
        settings = system.settings.with_(
            smtp_url=f"smtp+starttls://{CREDENTIALS}@127.0.0.1:{mx.port}")
        assert send(system, settings) == 1
    [(status, error)] = outbox(system)
    assert status == "failing" and error is not None and "CERTIFICATE_VERIFY_FAILED" in error
    assert mx.logins == [] and mx.inbox.messages == []


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_starttls_is_required_never_downgraded(system: Takedown, tls: Tls) -> None:
    with relay(auth_required=True, auth_require_tls=False) as mx:  # plain text only
        settings = system.settings.with_(
            smtp_url=f"smtp+starttls://{CREDENTIALS}@127.0.0.1:{mx.port}",
            smtp_tls_ca_file=tls.ca_file)
        assert send(system, settings) == 1
    [(status, error)] = outbox(system)
    assert status == "failing" and error is not None
    assert "does not offer STARTTLS" in error and PASSWORD not in error
    assert mx.logins == [] and mx.inbox.messages == []


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_smtps_is_tls_from_the_first_byte(system: Takedown, tls: Tls) -> None:
    # aiosmtpd cannot tell implicit TLS from plain text, hence auth_require_tls=False.
    with relay(ssl_context=tls.server, auth_required=True, auth_require_tls=False) as mx:
        settings = system.settings.with_(
            smtp_url=f"smtps://{CREDENTIALS}@127.0.0.1:{mx.port}",
            smtp_tls_ca_file=tls.ca_file)
        assert send(system, settings) == 1
    assert outbox(system) == [("delivered", None)]
    assert mx.logins == [USER] and len(mx.inbox.messages) == 1


def test_a_relay_down_for_a_while_gets_the_mail_once_it_is_back(system: Takedown) -> None:
    port = free_port()
    settings = system.settings.with_(smtp_url=f"smtp://127.0.0.1:{port}")
    assert send(system, settings) == 1
    [(status, error)] = outbox(system)
    assert status == "failing" and error is not None and "Connection" in error
    sender = NotificationSender(system.db, settings)
    assert sender.run_once("worker") == 0  # backing off
    with relay(port) as mx:
        with system.db.transaction() as s:  # the back-off has passed
            s.execute(update(NotificationRow).values(
                next_attempt_at=utcnow() - timedelta(seconds=1)))
        assert sender.run_once("worker") == 1
        assert sender.run_once("worker") == 0
    assert outbox(system) == [("delivered", None)]
    assert len(mx.inbox.messages) == 1


@pytest.mark.parametrize(("url", "problem"), [
    ("ftp://x", "unknown SMTP URL scheme 'ftp'"),
    ("smtp://", "no host"),
    ("smtp+starttls://u:p@:587", "no host"),
    ("smtp://mailer:hunter2@mx:99999", "port"),
    ("smtp://mailer:hunter2/x@mx", "percent-encode"),
    ("smtp://mailer@mx", "both a user and a password"),
    ("smtp://mailer:hunter2%C3%A9@mx", "must be ASCII"),
])
def test_a_bad_url_stops_the_start_naming_the_problem(url: str, problem: str) -> None:
    with pytest.raises(ValidationError, match="smtp_url") as failed:
        Settings(smtp_url=url)
    assert problem in str(failed.value) and "hunter2" not in str(failed.value)


def test_the_url_is_read_from_the_environment_and_decoded(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TAKEDOWN_SMTP_URL", f"smtp+starttls://{CREDENTIALS}@Mail.Example:2587")
    settings = Settings()
    assert settings.smtp_endpoint == SmtpEndpoint("mail.example", 2587, "starttls", USER,
                                                  PASSWORD)
    assert PASSWORD not in repr(settings) and PASSWORD not in repr(settings.smtp_endpoint)
    assert settings.with_(smtp_port=26).smtp_endpoint == settings.smtp_endpoint  # a copy
    assert Settings(smtp_url="smtps://mx").smtp_endpoint == SmtpEndpoint("mx", 465, "tls")
    assert Settings(smtp_url="smtp://mx").smtp_endpoint.port == 25


def test_without_a_url_host_and_port_still_apply() -> None:
    assert Settings(smtp_host="relay", smtp_port=2525).smtp_endpoint == SmtpEndpoint(
        "relay", 2525, "plain")
    assert Settings(smtp_url="  ", smtp_host="relay").smtp_endpoint.host == "relay"
