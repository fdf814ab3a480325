"""Settings in one typed place (pydantic-settings: every field is `TAKEDOWN_<NAME>` in
the environment), and loading the operator's policy file."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from takedown.domain.policy import Policy, PolicyError, policy_from_mapping
from takedown.notify.smtp import SmtpEndpoint, parse_smtp_url

DEFAULT_POLICY = "policy.toml"


def _env(name: str, *old: str) -> Any:
    """The variable `TAKEDOWN_<NAME>`, and older names that keep working."""
    names = (*(f"TAKEDOWN_{n}" for n in (name, *old)), name.lower())
    return Field(default=None, validation_alias=AliasChoices(*names))


class Settings(BaseSettings):
    # Inputs are kept out of validation errors: several settings hold secrets (a URL
    # with a password among them), and those errors are printed at start.
    model_config = SettingsConfigDict(env_prefix="TAKEDOWN_", frozen=True, extra="ignore",
                                      populate_by_name=True, hide_input_in_errors=True)

    data_dir: Path = Path("data")
    database_url: str = ""
    policy_path: Path | None = _env("POLICY")
    # Where `takedown serve` (and `make run PORT=…`) listens.
    host: str = "127.0.0.1"
    port: int = 8000
    # Worker threads run inside the API process; 0 when `takedown worker` runs apart.
    inprocess_workers: int = 2
    # Bodies: uploads with media may be large; every other request is small JSON, so a
    # flood of big bodies to the public report form is refused before it is parsed.
    max_request_bytes: int = 96 * 1024 * 1024
    max_json_bytes: int = 1024 * 1024
    max_media_bytes: int = 64 * 1024 * 1024
    # Decoding: at most this many media decodes run at once in one process, so that
    # parallel large files cannot multiply the memory one decode needs.
    max_concurrent_decodes: int = 2
    fetch_timeout_s: float = 10.0
    webhook_timeout_s: float = 10.0
    webhook_batch: int = 500
    poll_interval_s: float = 0.25
    lease_s: float = 60.0
    escalation_check_s: float = 5.0
    # On-call, told when a case passes its deadline: e-mail and/or a signed webhook.
    oncall_email: str | None = None
    # The mail relay: one URL (notify/smtp.py: smtp://, smtp+starttls://, smtps://, with
    # a percent-encoded user and password) or, when it is unset, plain SMTP to host:port.
    # A private CA file replaces the system's trust store for the relay's certificate.
    smtp_url: SecretStr | None = None
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_tls_ca_file: Path | None = None
    mail_from: str = "takedown@localhost"
    oncall_webhook_url: str | None = _env("ONCALL_WEBHOOK", "ONCALL_WEBHOOK_URL")
    oncall_webhook_secret: str = ""
    # Where reporters reach this service: links in their e-mails.
    public_url: str = "http://127.0.0.1:8000"
    # Reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (comma-
    # separated addresses); from any other peer those headers are ignored.
    trusted_proxies: str = ""
    # Console sign-in: attempts allowed per account and per client address (the `limits`
    # package's notation), and where the counters live (memory:// per process;
    # redis://… to share them between API hosts).
    signin_limit_account: str = "5/minute;20/hour"
    signin_limit_address: str = "20/minute;100/hour"
    rate_limit_storage: str = "memory://"
    # Reports without a platform's API key: per client address, and (any report) per
    # reported item, in the `limits` notation; "off" for load tests. See cases.limits.
    report_rate_limit: str = "20/minute;200/hour"
    report_rate_limit_per_content: str = "60/minute"
    # The audit chain's HMAC key (kept outside the database; `takedown audit key` makes
    # one) and the file the signed head is anchored to. Without a key, one is made and
    # kept in data_dir/audit.key (fine for the embedded default, not for production).
    audit_key: str = ""
    audit_anchor_path: Path | None = None
    audit_anchor_interval_s: float = 60.0
    # Logs: one JSON object per line ("json") or plain text ("text").
    log_format: str = "json"
    # When set, /metrics answers only `Authorization: Bearer <this>` (else, keep it to an
    # internal network: see docs/operations.md).
    metrics_token: str = ""
    # NCMEC's CyberTipline reporting API: the base URL ending in /ispws
    # (https://exttest.cybertip.org/ispws to test, https://report.cybertip.org/ispws in
    # production) and the ESP account's HTTP Basic credentials. Unset: drafts wait, and
    # the console says why.
    ncmec_url: str = ""
    ncmec_username: str = ""
    ncmec_password: str = ""
    ncmec_timeout_s: float = 60.0
    # The EU DSA Transparency Database (statements of reasons, Art. 24(5)): its base URL
    # without /api/v1 (https://transparency.dsa.ec.europa.eu) and the platform's API
    # token. Unset (a platform outside the EU): statements are kept, pending, and the
    # backlog goes once both are set.
    dsa_tdb_url: str = ""
    dsa_tdb_token: SecretStr = SecretStr("")
    dsa_tdb_timeout_s: float = 30.0
    # The evidence vault's AES-256 key (base64 of 32 bytes; `takedown evidence new-key`)
    # and older keys still needed to read items sealed before a rotation (comma-separated).
    # Unset: a key is made and kept in data_dir/vault.key (the embedded default only).
    vault_key: str = ""
    vault_old_keys: str = ""
    # The Ed25519 private key (PEM file) that signs law-enforcement bundles. Unset: one is
    # made and kept in data_dir/signing-key.pem.
    signing_key: Path | None = None

    @field_validator("report_rate_limit", "report_rate_limit_per_content")
    @classmethod
    def _a_limit(cls, value: str) -> str:
        from limits import parse_many

        if value.strip() != "off":
            try:
                parse_many(value)
            except ValueError as exc:
                raise ValueError(f"{value!r} is not a rate limit like '20/minute' or "
                                 f"'20/minute;200/hour' (or 'off'): {exc}") from None
        return value.strip()

    @field_validator("public_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("dsa_tdb_url")
    @classmethod
    def _tdb_base_url(cls, value: str) -> str:
        # The client adds /api/v1/statements: a URL that has it already would 404.
        value = value.strip().rstrip("/")
        if value.endswith("/api/v1"):
            raise ValueError("give the Transparency Database's base URL, without /api/v1")
        return value

    @field_validator("smtp_url")
    @classmethod
    def _usable_smtp_url(cls, value: SecretStr | None) -> SecretStr | None:
        # Checked here so that a bad URL stops the start, not each e-mail later.
        if value is None or not value.get_secret_value().strip():
            return None
        parse_smtp_url(value.get_secret_value())
        return value

    @property
    def smtp_endpoint(self) -> SmtpEndpoint:
        if self.smtp_url is None:
            return SmtpEndpoint(self.smtp_host, self.smtp_port)
        return parse_smtp_url(self.smtp_url.get_secret_value())

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'takedown.db').resolve()}"

    @property
    def media_dir(self) -> Path:
        return self.data_dir / "media"

    @property
    def vault_dir(self) -> Path:
        return self.data_dir / "vault"

    @property
    def ncmec_configured(self) -> bool:
        return bool(self.ncmec_url and self.ncmec_username and self.ncmec_password)

    @property
    def dsa_tdb_configured(self) -> bool:
        return bool(self.dsa_tdb_url and self.dsa_tdb_token.get_secret_value())

    @property
    def trusted_proxy_list(self) -> list[str]:
        return [p.strip() for p in self.trusted_proxies.split(",") if p.strip()]

    @classmethod
    def from_env(cls) -> Settings:
        return cls()

    def with_(self, **changes: Any) -> Settings:
        return self.model_validate({**self.model_dump(), **changes})


def load_policy(path: Path | None) -> Policy:
    """The operator's policy file, or the one shipped with takedown."""
    if path is None:
        text = resources.files("takedown").joinpath(DEFAULT_POLICY).read_text("utf-8")
        where = "built-in policy"
    else:
        text = path.read_text("utf-8")
        where = str(path)
    try:
        return policy_from_mapping(tomllib.loads(text))
    except (tomllib.TOMLDecodeError, PolicyError) as exc:
        raise PolicyError(f"{where}: {exc}") from exc
