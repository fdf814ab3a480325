"""Settings from the environment, and loading the operator's policy file."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path

from takedown.domain.policy import Policy, PolicyError, policy_from_mapping

DEFAULT_POLICY = "policy.toml"


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return default if raw in (None, "") else int(raw)


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("data")
    database_url: str = ""
    policy_path: Path | None = None
    # Worker threads run inside the API process; 0 when `takedown worker` runs apart.
    inprocess_workers: int = 2
    max_request_bytes: int = 96 * 1024 * 1024
    max_media_bytes: int = 64 * 1024 * 1024
    fetch_timeout_s: float = 10.0
    webhook_timeout_s: float = 10.0
    webhook_batch: int = 500
    poll_interval_s: float = 0.25
    lease_s: float = 60.0
    escalation_check_s: float = 5.0
    # On-call, told when a case passes its deadline: e-mail and/or a signed webhook.
    oncall_email: str | None = None
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    mail_from: str = "takedown@localhost"
    oncall_webhook_url: str | None = None
    oncall_webhook_secret: str = ""
    # Where reporters reach this service: links in their e-mails.
    public_url: str = "http://127.0.0.1:8000"

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'takedown.db').resolve()}"

    @property
    def media_dir(self) -> Path:
        return self.data_dir / "media"

    @classmethod
    def from_env(cls) -> Settings:
        policy = os.environ.get("TAKEDOWN_POLICY")
        return cls(
            data_dir=Path(os.environ.get("TAKEDOWN_DATA_DIR", "data")),
            database_url=os.environ.get("TAKEDOWN_DATABASE_URL", ""),
            policy_path=Path(policy) if policy else None,
            inprocess_workers=_env_int("TAKEDOWN_INPROCESS_WORKERS", 2),
            max_media_bytes=_env_int("TAKEDOWN_MAX_MEDIA_BYTES", 64 * 1024 * 1024),
            oncall_email=os.environ.get("TAKEDOWN_ONCALL_EMAIL") or None,
            smtp_host=os.environ.get("TAKEDOWN_SMTP_HOST", "127.0.0.1"),
            smtp_port=_env_int("TAKEDOWN_SMTP_PORT", 25),
            mail_from=os.environ.get("TAKEDOWN_MAIL_FROM", "takedown@localhost"),
            oncall_webhook_url=os.environ.get("TAKEDOWN_ONCALL_WEBHOOK") or None,
            oncall_webhook_secret=os.environ.get("TAKEDOWN_ONCALL_WEBHOOK_SECRET", ""),
            public_url=os.environ.get("TAKEDOWN_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/"),
        )

    def with_(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]


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
