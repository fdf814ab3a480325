"""Wire the demo platform to takedown: register it once, remember its secrets."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass

from takedown import access, audit
from takedown.config import Settings
from takedown.demo.app import DemoPlatform
from takedown.demo.ncmec import DEMO_NCMEC_PATH, StandInNcmec
from takedown.domain.vocabulary import Role
from takedown.errors import Conflict
from takedown.platform.webhooks import new_secret
from takedown.system import Takedown

DEMO_PLATFORM = "demo"
# Reviewers the demo creates: two specialists (a dismissal needs two) and a moderator.
DEMO_REVIEWERS = {
    "specialist-ana": Role.CHILD_SAFETY_SPECIALIST,
    "specialist-ben": Role.CHILD_SAFETY_SPECIALIST,
    "moderator-max": Role.MODERATOR,
    "liaison-lee": Role.LIAISON,  # opens the evidence vault for law enforcement
}
# Who NCMEC would contact about the demo platform's reports (invented, .example).
DEMO_CONTACT: dict[str, str | None] = {"first_name": "Demo", "last_name": "Trust and Safety",
                "email": "trust-safety@demo.example",
                "company_template": "The demo platform of takedown: no real users. Legal "
                                    "process: legal@demo.example."}



@dataclass(frozen=True)
class DemoLogin:
    token: str  # for the API: Authorization: Bearer <token>
    password: str | None  # for the console


def demo_platform(system: Takedown,
                  public_url: str) -> tuple[DemoPlatform, dict[str, DemoLogin]]:
    """The demo platform, and the demo reviewers' API tokens and console passwords,
    created on first use and kept in the data directory (readable by its owner only)
    for later runs."""
    path = system.settings.data_dir / "demo-credentials.json"
    if path.exists():
        creds = json.loads(path.read_text())
    else:
        creds = {"api_key": "tdp_" + secrets.token_urlsafe(32),
                 "webhook_secret": new_secret(),
                 "reviewers": {n: "tdu_" + secrets.token_urlsafe(32) for n in DEMO_REVIEWERS},
                 "passwords": {n: secrets.token_urlsafe(9) for n in DEMO_REVIEWERS}}
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(creds, handle)
    webhook = f"{public_url}/demo/webhooks/takedown"
    with system.db.transaction() as s:
        if access.platform_exists(s, DEMO_PLATFORM):
            access.set_webhook_url(s, DEMO_PLATFORM, webhook)
        else:
            access.add_platform(s, DEMO_PLATFORM, webhook, api_key=creds["api_key"],
                                webhook_secret=creds["webhook_secret"])
            s.flush()
        access.set_tipline_contact(s, DEMO_PLATFORM, DEMO_CONTACT)
        for name, role in DEMO_REVIEWERS.items():
            try:
                with s.begin_nested():
                    access.add_user(s, name, role, creds["reviewers"][name],
                                    creds.get("passwords", {}).get(name))
                    audit.record(s, "demo", "user_added", f"user:{name}", "demo",
                                 {"role": role.value})
            except Conflict:
                pass  # created on an earlier run
    platform = DemoPlatform(system.settings.data_dir, api_key=creds["api_key"],
                            webhook_secret=creds["webhook_secret"], takedown_url=public_url,
                            public_url=public_url)
    passwords = creds.get("passwords", {})
    return platform, {name: DemoLogin(token, passwords.get(name))
                      for name, token in creds["reviewers"].items()}


def demo_ncmec(settings: Settings, public_url: str) -> tuple[Settings, StandInNcmec | None]:
    """Unless a real NCMEC endpoint is configured, a stand-in one beside the demo
    (mounted at DEMO_NCMEC_PATH), so CyberTipline reports go somewhere and nowhere real.
    Returns the settings that point at it."""
    if settings.ncmec_configured:
        return settings, None
    password = secrets.token_urlsafe(16)
    stand_in = StandInNcmec(username="demo-esp", password=password)
    return settings.with_(ncmec_url=f"{public_url}{DEMO_NCMEC_PATH}",
                          ncmec_username="demo-esp", ncmec_password=password), stand_in
