"""The demo platform: accounts, posts, reposts, views; it registers every post with
takedown, forwards view counts, and obeys takedown's signed action webhooks.

It keeps its own small SQLite database, apart from takedown's, as a real platform
would. It is a teaching aid, not a product: no accounts to log in, no feeds.

A post carries any number of harmless generated files (an album): photos (altered by
any of the re-uploaders' edits), other harmless pictures, videos and re-cut clips of
them, frames grabbed from a video, slideshows. Each is described by a `MediaSpec`,
generated on first use, kept under `demo-media/`, served at `/demo/media/{post}/{n}`
and registered with takedown by that URL.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
import uuid
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import httpx
from fastapi import FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import BaseModel, Field, field_validator, model_validator
from sqlalchemy import Boolean, Float, Integer, String, Text, create_engine, event, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker
from standardwebhooks import Webhook, WebhookVerificationError

from takedown.demo.edits import EDITS, clip, frame_at, generated_video, slideshow
from takedown.demo.media import (
    ALTERATIONS,
    altered_copies,
    generated_photo,
    harmless_photo,
)
from takedown.platform.webhooks import signing_key

log = logging.getLogger(__name__)


class _Base(DeclarativeBase):
    pass


class DemoAccount(_Base):
    __tablename__ = "accounts"
    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    suspended: Mapped[bool] = mapped_column(Boolean, default=False)


class DemoPost(_Base):
    __tablename__ = "posts"
    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    author: Mapped[str] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text, default="")
    media_file: Mapped[str | None] = mapped_column(String(200))
    parent_id: Mapped[str | None] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(10), default="post")  # post, repost, quote
    views: Mapped[int] = mapped_column(Integer, default=0)
    # pending (until takedown answers), visible, hidden, removed, blocked
    visibility: Mapped[str] = mapped_column(String(10), default="pending")
    case_id: Mapped[int | None] = mapped_column(Integer)


class DemoPostMedia(_Base):
    """The files of a post, in order (`media_file` is the first, as it always was)."""

    __tablename__ = "post_media"
    post_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    n: Mapped[int] = mapped_column(Integer, primary_key=True)
    file: Mapped[str] = mapped_column(String(200))


class DemoAction(_Base):
    """Every action received, once: the platform's side of deduplication."""

    __tablename__ = "actions"
    action_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    type: Mapped[str] = mapped_column(String(20))
    target_type: Mapped[str] = mapped_column(String(20))
    target_id: Mapped[str] = mapped_column(String(100))
    received_at: Mapped[float] = mapped_column(Float)  # unix time, for the demo's clock


_VISIBILITY_AFTER = {"restrict": "hidden", "remove": "removed", "restore": "visible"}
_VERDICT_VISIBILITY = {"allow": "visible", "restrict": "hidden", "block": "blocked"}


EDITS_BY_NAME = {e.name: e for e in EDITS}
VARIANTS = (*ALTERATIONS, *EDITS_BY_NAME)
VIDEO_SIZE = (320, 240)
MAX_FILES = 20  # takedown takes up to 20 files per item
_MIME = {".jpg": "image/jpeg", ".mp4": "video/mp4"}
_PICTURES = ("photo", "harmless", "frame")


def _known_variant(variant: str | None) -> str | None:
    if variant is not None and variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}: one of {', '.join(ALTERATIONS)} "
                         "or the name of an edit in takedown.demo.edits.EDITS")
    return variant


class MediaSpec(BaseModel):
    """One harmless generated file, made on first use and kept."""

    kind: Literal["photo", "harmless", "video", "frame", "slideshow"] = Field(
        "photo", description="photo: `generated_photo(seed)`, altered by `variant`; "
                             "harmless: `harmless_photo(seed)`; video: `generated_video(seed)` "
                             "(320x240), or a re-cut `clip` of it; frame: one frame of that "
                             "video, at `at` seconds, as a JPEG; slideshow: a video of `slides`.")
    seed: int = 0
    variant: str | None = Field(None, description="photo: re-encoded, resized, cropped, "
                                                  "watermarked, mirrored, greyscaled, or the "
                                                  "name of any edit in `EDITS`.")
    seconds: float = Field(10.0, gt=0, le=30, description="video, frame: the video's length.")
    clip: tuple[float, float] | None = Field(None, description="video: a re-encoded cut of "
                                                               "it, (start s, length s).")
    at: float | None = Field(None, ge=0, description="frame: when in the video.")
    slides: list[MediaSpec] = Field(default_factory=list, max_length=10,
                                    description="slideshow: the pictures shown in turn.")

    _variant = field_validator("variant")(_known_variant)

    @model_validator(mode="after")
    def _fits_its_kind(self) -> MediaSpec:
        if self.variant is not None and self.kind != "photo":
            raise ValueError("only a photo has a variant")
        if self.clip is not None:
            start, length = self.clip
            if self.kind != "video" or start < 0 or length <= 0 or \
                    start + length > self.seconds:
                raise ValueError("clip is (start, length) within a video's seconds")
        if (self.at is not None) != (self.kind == "frame"):
            raise ValueError("a frame, and only a frame, needs `at`")
        if self.at is not None and self.at >= self.seconds:
            raise ValueError("`at` must fall within the video")
        if (len(self.slides) > 0) != (self.kind == "slideshow"):
            raise ValueError("a slideshow, and only a slideshow, has slides")
        if any(s.kind not in _PICTURES for s in self.slides):
            raise ValueError("slides are pictures: photo, harmless or frame")
        return self

    @property
    def file_name(self) -> str:
        if self.kind == "photo" and (self.variant is None or self.variant in ALTERATIONS):
            return f"photo-{self.seed}{'-' + self.variant if self.variant else ''}.jpg"
        digest = hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:16]
        ext = "mp4" if self.kind in ("video", "slideshow") else "jpg"
        return f"{self.kind}-{self.seed}-{digest}.{ext}"


class PostIn(BaseModel):
    id: str = Field(min_length=1, max_length=100)
    author: str = Field(min_length=1, max_length=100)
    text: str = ""
    image_seed: int | None = Field(None, description="Attach the generated photo of this seed.")
    variant: str | None = Field(None, description="Alter that photo first: re-encoded, "
                                                  "resized, cropped, watermarked, mirrored, "
                                                  "greyscaled, or any edit in `EDITS`.")
    media: list[MediaSpec] = Field(default_factory=list, max_length=MAX_FILES,
                                   description="Files to attach (after the photo of "
                                               "`image_seed`, if given): an album.")
    repost_of: str | None = None
    quote_of: str | None = None
    created_at: datetime | None = None

    _variant = field_validator("variant")(_known_variant)

    @model_validator(mode="after")
    def _not_too_many(self) -> PostIn:
        if len(self.files()) > MAX_FILES:
            raise ValueError(f"at most {MAX_FILES} files per post")
        return self

    def files(self) -> list[MediaSpec]:
        photo = [] if self.image_seed is None else [
            MediaSpec(kind="photo", seed=self.image_seed, variant=self.variant)]
        return [*photo, *self.media]


class PostsIn(BaseModel):
    posts: list[PostIn] = Field(max_length=5000)


class ViewsIn(BaseModel):
    views: dict[str, int]
    observed_at: datetime | None = None


class DemoPlatform:
    def __init__(self, data_dir: Path, *, api_key: str, webhook_secret: str,
                 takedown_url: str, public_url: str) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.media_dir = data_dir / "demo-media"
        self.media_dir.mkdir(exist_ok=True)
        self.engine = create_engine(f"sqlite:///{data_dir / 'demo-platform.db'}")
        event.listen(self.engine, "connect", _demo_pragmas)
        _Base.metadata.create_all(self.engine)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.api_key = api_key
        # What a platform does: an off-the-shelf Standard Webhooks verifier. signing_key
        # also reads the secrets of demo data directories made before whsec_ secrets.
        self.webhook = Webhook(signing_key(webhook_secret))
        self.takedown_url = takedown_url.rstrip("/")
        self.public_url = public_url.rstrip("/")
        self.http = httpx.Client(timeout=30)
        self.lock = threading.Lock()  # one writer at a time on the demo's small database
        # The statements of reasons that came with restrictions and removals, by action,
        # as the platform would show them to uploaders (None: an action without one).
        self.statements: dict[str, tuple[int | None, dict[str, Any] | None]] = {}
        templates = resources.files("takedown.demo").joinpath("templates")
        self.templates = Environment(loader=FileSystemLoader(str(templates)),
                                     autoescape=select_autoescape(["html"]))

    def close(self) -> None:
        self.http.close()
        self.engine.dispose()

    # --- posting -----------------------------------------------------------------

    def create_posts(self, posts: list[PostIn]) -> list[dict[str, Any]]:
        return [self.create_post(p) for p in posts]

    def create_post(self, post: PostIn) -> dict[str, Any]:
        files = [self.media_file(spec) for spec in post.files()]
        kind = "repost" if post.repost_of else "quote" if post.quote_of else "post"
        with self.lock, self.sessions.begin() as s:
            if s.get(DemoPost, post.id) is None:
                s.merge(DemoAccount(id=post.author, suspended=False))
                s.add(DemoPost(id=post.id, author=post.author, text=post.text,
                               media_file=files[0] if files else None, kind=kind, views=0,
                               visibility="pending", parent_id=post.repost_of or post.quote_of))
                s.add_all(DemoPostMedia(post_id=post.id, n=n, file=name)
                          for n, name in enumerate(files))
        answer = self._register(post, len(files))
        with self.lock, self.sessions.begin() as s:
            row = s.get(DemoPost, post.id)
            assert row is not None
            if row.visibility == "pending":  # a webhook may have acted already
                row.visibility = _VERDICT_VISIBILITY[answer["verdict"]]
            row.case_id = answer.get("case_id")
        return {"id": post.id, "verdict": answer["verdict"], "case_id": answer.get("case_id")}

    def _register(self, post: PostIn, files: int) -> dict[str, Any]:
        body: dict[str, Any] = {
            "content_id": post.id, "author_id": post.author, "text": post.text,
            "created_at": (post.created_at or datetime.now(UTC)).isoformat(),
            "url": f"{self.public_url}/demo/posts/{post.id}",
            "repost_of": post.repost_of, "quote_of": post.quote_of,
            "media": [{"url": f"{self.public_url}/demo/media/{post.id}/{n}"}
                      for n in range(files)],
        }
        response = self.http.post(f"{self.takedown_url}/v1/content", json=body,
                                  headers={"X-Api-Key": self.api_key})
        response.raise_for_status()
        answer: dict[str, Any] = response.json()
        return answer

    # --- media -------------------------------------------------------------------

    def media_file(self, spec: MediaSpec) -> str:
        """The file's name under `media_dir`, made first if it is not there yet."""
        path = self.media_dir / spec.file_name
        if not path.exists():
            data = self._generate(spec)
            partial = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
            partial.write_bytes(data)
            os.replace(partial, path)  # whole, even with two requests making it at once
        return path.name

    def _bytes(self, spec: MediaSpec) -> bytes:
        return (self.media_dir / self.media_file(spec)).read_bytes()

    def _generate(self, spec: MediaSpec) -> bytes:
        if spec.kind == "photo":
            if spec.variant is None:
                return generated_photo(spec.seed)
            photo = self._bytes(MediaSpec(kind="photo", seed=spec.seed))
            if spec.variant in ALTERATIONS:
                return altered_copies(photo)[spec.variant]
            return EDITS_BY_NAME[spec.variant].apply(photo)
        if spec.kind == "harmless":
            return harmless_photo(spec.seed)
        if spec.kind == "slideshow":
            return slideshow([self._bytes(s) for s in spec.slides])
        video = MediaSpec(kind="video", seed=spec.seed, seconds=spec.seconds)
        if spec.kind == "frame":
            assert spec.at is not None  # checked by MediaSpec
            return frame_at(self._bytes(video), spec.at)
        if spec.clip is not None:
            return clip(self._bytes(video), *spec.clip)
        return generated_video(spec.seed, spec.seconds, VIDEO_SIZE)

    # --- views -------------------------------------------------------------------

    def add_views(self, deltas: dict[str, int], observed_at: datetime) -> int:
        """Views accrue only on visible posts; the new totals go to takedown."""
        return sum(self.apply_views(deltas, observed_at).values())

    def apply_views(self, deltas: dict[str, int], observed_at: datetime) -> dict[str, int]:
        """`add_views`, answering the views each post got (visible posts only)."""
        applied: dict[str, int] = {}
        counters = []
        with self.lock, self.sessions.begin() as s:
            for post in s.scalars(select(DemoPost).where(DemoPost.id.in_(list(deltas)))):
                if post.visibility == "visible" and deltas[post.id] > 0:
                    post.views += deltas[post.id]
                    applied[post.id] = deltas[post.id]
                    counters.append({"content_id": post.id, "views": post.views,
                                     "observed_at": observed_at.isoformat()})
        for start in range(0, len(counters), 5000):
            self.http.post(f"{self.takedown_url}/v1/content/reach",
                           json={"updates": counters[start:start + 5000]},
                           headers={"X-Api-Key": self.api_key}).raise_for_status()
        return applied

    # --- webhooks ----------------------------------------------------------------

    def receive(self, headers: dict[str, str], body: bytes) -> dict[str, Any]:
        actions = self.webhook.verify(body, headers)["actions"]
        now = time.time()
        with self.lock, self.sessions.begin() as s, s.no_autoflush:
            ids = [a["action_id"] for a in actions]
            seen = set(s.scalars(
                select(DemoAction.action_id).where(DemoAction.action_id.in_(ids))))
            fresh = [a for a in actions if a["action_id"] not in seen]
            self.statements.update((a["action_id"], (a.get("case_id"), a.get("statement")))
                                   for a in fresh if a["type"] in ("restrict", "remove"))
            targets = [a["target"]["id"] for a in fresh]
            posts = {p.id: p for p in s.scalars(
                select(DemoPost).where(DemoPost.id.in_(targets)))}
            for action in fresh:  # delivered before: acknowledged again, acted on once
                target = action["target"]
                s.add(DemoAction(action_id=action["action_id"], type=action["type"],
                                 target_type=target["type"], target_id=target["id"],
                                 received_at=now))
                if target["type"] == "content":
                    _apply_to_post(posts.get(target["id"]), action["type"],
                                   on_appeal="statement" in action)
                elif action["type"] in ("suspend", "reinstate"):
                    s.merge(DemoAccount(id=target["id"], suspended=action["type"] == "suspend"))
        preserve = [a["target"]["id"] for a in fresh if a["type"] == "preserve_account"]
        if preserve:  # answered after acknowledging, as a platform's own job would
            threading.Thread(target=self.send_account_records, args=(preserve,),
                             name="demo-preserve", daemon=True).start()
        return {"acknowledged": ids, "applied": len(fresh)}

    def send_account_records(self, accounts: list[str]) -> None:
        """What the demo platform keeps about an account it is asked to preserve, sent to
        takedown for the CyberTipline report. Invented: a screen name, an address at a
        reserved domain, an upload from a documentation-only IP range (RFC 5737)."""
        for account in accounts:
            last = int(hashlib.sha256(account.encode()).hexdigest(), 16) % 254 + 1
            record = {"screen_name": account, "emails": [f"{account}@users.demo.example"],
                      "ip_events": [{"ip": f"203.0.113.{last}", "event": "Upload",
                                     "at": datetime.now(UTC).isoformat()}]}
            try:
                self.http.put(f"{self.takedown_url}/v1/accounts/{account}", json=record,
                              headers={"X-Api-Key": self.api_key}).raise_for_status()
            except httpx.HTTPError as exc:  # takedown's draft goes without it in time
                log.warning("demo platform could not send account %s: %s", account, exc)

    # --- reading -----------------------------------------------------------------

    def posts(self, ids: list[str] | None = None) -> list[DemoPost]:
        with self.sessions() as s:
            query = select(DemoPost).order_by(DemoPost.id)
            if ids is not None:
                query = query.where(DemoPost.id.in_(ids))
            return list(s.scalars(query))

    def actions(self) -> list[DemoAction]:
        with self.sessions() as s:
            return list(s.scalars(select(DemoAction).order_by(DemoAction.received_at)))

    def suspended_accounts(self) -> set[str]:
        with self.sessions() as s:
            return set(s.scalars(select(DemoAccount.id).where(DemoAccount.suspended.is_(True))))

    def post_files(self, ids: list[str]) -> dict[str, list[str]]:
        """Each post's files, in order (posts made before albums: their one file)."""
        found: dict[str, list[str]] = {}
        with self.sessions() as s:
            for start in range(0, len(ids), 500):
                batch = ids[start:start + 500]
                for row in s.scalars(select(DemoPostMedia)
                                     .where(DemoPostMedia.post_id.in_(batch))
                                     .order_by(DemoPostMedia.post_id, DemoPostMedia.n)):
                    found.setdefault(row.post_id, []).append(row.file)
                for post_id, first in s.execute(select(DemoPost.id, DemoPost.media_file).where(
                        DemoPost.id.in_(batch), DemoPost.media_file.is_not(None))):
                    if first is not None:
                        found.setdefault(post_id, [first])
        return found

    def media(self, post_id: str, n: int = 0) -> tuple[bytes, str] | None:
        """A visible (or not yet screened) post's n-th file and its media type."""
        with self.sessions() as s:
            post = s.get(DemoPost, post_id)
        if post is None or post.visibility not in ("pending", "visible"):
            return None
        files = self.post_files([post_id]).get(post_id, [])
        if not 0 <= n < len(files):
            return None
        path = self.media_dir / files[n]
        return path.read_bytes(), _MIME.get(path.suffix, "application/octet-stream")

    def media_bytes(self, post_id: str, n: int = 0) -> bytes | None:
        found = self.media(post_id, n)
        return None if found is None else found[0]

    def page(self) -> str:
        with self.sessions() as s:
            posts = list(s.scalars(select(DemoPost).where(DemoPost.kind != "repost")
                                   .order_by(DemoPost.id).limit(200)))
            counts: dict[str, int] = {}
            for post in s.scalars(select(DemoPost)):
                counts[post.visibility] = counts.get(post.visibility, 0) + 1
            suspended = [a.id for a in s.scalars(select(DemoAccount).where(
                DemoAccount.suspended.is_(True)))]
        files = {post_id: [(n, _MIME.get(Path(name).suffix, "")) for n, name in enumerate(names)]
                 for post_id, names in self.post_files([p.id for p in posts]).items()}
        return self.templates.get_template("index.html").render(
            posts=posts, counts=counts, suspended=suspended, files=files)

    # --- HTTP --------------------------------------------------------------------

    def app(self) -> FastAPI:
        app = FastAPI(title="takedown demo platform", docs_url=None, redoc_url=None,
                      openapi_url=None)

        @app.get("/", response_class=HTMLResponse)
        def index() -> str:
            return self.page()

        @app.get("/media/{post_id}/{n}")
        def file(post_id: str, n: int) -> Response:
            found = self.media(post_id, n)
            if found is None:
                raise HTTPException(404, "no such media")
            data, media_type = found
            return Response(data, media_type=media_type)

        @app.get("/media/{post_id}")
        def first_file(post_id: str) -> Response:
            return file(post_id, 0)

        @app.post("/api/posts")
        def create(post: PostIn) -> dict[str, Any]:
            return self.create_post(post)

        @app.post("/api/posts/bulk")
        def create_many(body: PostsIn) -> list[dict[str, Any]]:
            return self.create_posts(body.posts)

        @app.post("/api/views")
        def views(body: ViewsIn) -> dict[str, int]:
            return {"applied": self.add_views(body.views,
                                              body.observed_at or datetime.now(UTC))}

        @app.post("/webhooks/takedown")
        async def webhook(request: Request) -> JSONResponse:
            body = await request.body()
            try:
                result = await run_in_threadpool(self.receive, dict(request.headers), body)
            except WebhookVerificationError as exc:
                return JSONResponse({"error": str(exc)}, status_code=401)
            return JSONResponse(result)

        return app


def _apply_to_post(post: DemoPost | None, kind: str, on_appeal: bool = False) -> None:
    if post is None:
        return
    if kind == "restore" and post.visibility != "hidden" and not on_appeal:
        return  # restore lifts a restriction; it undoes a removal only on appeal
    post.visibility = _VISIBILITY_AFTER.get(kind, post.visibility)


def _demo_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()

