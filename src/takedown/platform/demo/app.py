"""The demo platform: accounts, posts, reposts, views; it registers every post with
takedown, forwards view counts, and obeys takedown's signed action webhooks.

It keeps its own small SQLite database, apart from takedown's, as a real platform
would. It is a teaching aid, not a product: no accounts to log in, no feeds.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import BaseModel, Field
from sqlalchemy import Boolean, Float, Integer, String, Text, create_engine, event, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, sessionmaker

from takedown.platform.demo.media import altered_copies, generated_photo
from takedown.platform.webhooks import SignatureError, verify


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


class PostIn(BaseModel):
    id: str = Field(min_length=1, max_length=100)
    author: str = Field(min_length=1, max_length=100)
    text: str = ""
    image_seed: int | None = Field(None, description="Attach the generated photo of this seed.")
    variant: str | None = Field(None, description="Alter that photo first: re-encoded, "
                                                  "resized, cropped, watermarked, mirrored or "
                                                  "greyscaled.")
    repost_of: str | None = None
    quote_of: str | None = None
    created_at: datetime | None = None


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
        self.secret = webhook_secret
        self.takedown_url = takedown_url.rstrip("/")
        self.public_url = public_url.rstrip("/")
        self.http = httpx.Client(timeout=30)
        self.lock = threading.Lock()  # one writer at a time on the demo's small database
        templates = resources.files("takedown.platform.demo").joinpath("templates")
        self.templates = Environment(loader=FileSystemLoader(str(templates)),
                                     autoescape=select_autoescape(["html"]))

    def close(self) -> None:
        self.http.close()
        self.engine.dispose()

    # --- posting -----------------------------------------------------------------

    def create_posts(self, posts: list[PostIn]) -> list[dict[str, Any]]:
        return [self.create_post(p) for p in posts]

    def create_post(self, post: PostIn) -> dict[str, Any]:
        media_file = None
        if post.image_seed is not None:
            media_file = f"photo-{post.image_seed}{'-' + post.variant if post.variant else ''}.jpg"
            path = self.media_dir / media_file
            if not path.exists():
                photo = generated_photo(post.image_seed)
                path.write_bytes(altered_copies(photo)[post.variant] if post.variant else photo)
        kind = "repost" if post.repost_of else "quote" if post.quote_of else "post"
        with self.lock, self.sessions.begin() as s:
            if s.get(DemoPost, post.id) is None:
                s.merge(DemoAccount(id=post.author, suspended=False))
                s.add(DemoPost(id=post.id, author=post.author, text=post.text,
                               media_file=media_file, kind=kind, views=0, visibility="pending",
                               parent_id=post.repost_of or post.quote_of))
        answer = self._register(post, media_file)
        with self.lock, self.sessions.begin() as s:
            row = s.get(DemoPost, post.id)
            assert row is not None
            if row.visibility == "pending":  # a webhook may have acted already
                row.visibility = _VERDICT_VISIBILITY[answer["verdict"]]
            row.case_id = answer.get("case_id")
        return {"id": post.id, "verdict": answer["verdict"], "case_id": answer.get("case_id")}

    def _register(self, post: PostIn, media_file: str | None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "content_id": post.id, "author_id": post.author, "text": post.text,
            "created_at": (post.created_at or datetime.now(UTC)).isoformat(),
            "url": f"{self.public_url}/demo/posts/{post.id}",
            "repost_of": post.repost_of, "quote_of": post.quote_of,
            "media": [{"url": f"{self.public_url}/demo/media/{post.id}"}] if media_file else [],
        }
        response = self.http.post(f"{self.takedown_url}/v1/content", json=body,
                                  headers={"X-Api-Key": self.api_key})
        response.raise_for_status()
        answer: dict[str, Any] = response.json()
        return answer

    # --- views -------------------------------------------------------------------

    def add_views(self, deltas: dict[str, int], observed_at: datetime) -> int:
        """Views accrue only on visible posts; the new totals go to takedown."""
        applied, counters = 0, []
        with self.lock, self.sessions.begin() as s:
            for post in s.scalars(select(DemoPost).where(DemoPost.id.in_(list(deltas)))):
                if post.visibility == "visible" and deltas[post.id] > 0:
                    post.views += deltas[post.id]
                    applied += deltas[post.id]
                    counters.append({"content_id": post.id, "views": post.views,
                                     "observed_at": observed_at.isoformat()})
        for start in range(0, len(counters), 5000):
            self.http.post(f"{self.takedown_url}/v1/content/reach",
                           json={"updates": counters[start:start + 5000]},
                           headers={"X-Api-Key": self.api_key}).raise_for_status()
        return applied

    # --- webhooks ----------------------------------------------------------------

    def receive(self, headers: dict[str, str], body: bytes) -> dict[str, Any]:
        verify(self.secret, headers, body)
        actions = json.loads(body)["actions"]
        now = time.time()
        with self.lock, self.sessions.begin() as s, s.no_autoflush:
            ids = [a["action_id"] for a in actions]
            seen = set(s.scalars(
                select(DemoAction.action_id).where(DemoAction.action_id.in_(ids))))
            fresh = [a for a in actions if a["action_id"] not in seen]
            targets = [a["target"]["id"] for a in fresh]
            posts = {p.id: p for p in s.scalars(
                select(DemoPost).where(DemoPost.id.in_(targets)))}
            for action in fresh:  # delivered before: acknowledged again, acted on once
                target = action["target"]
                s.add(DemoAction(action_id=action["action_id"], type=action["type"],
                                 target_type=target["type"], target_id=target["id"],
                                 received_at=now))
                if target["type"] == "content":
                    _apply_to_post(posts.get(target["id"]), action["type"])
                elif action["type"] == "suspend":
                    s.merge(DemoAccount(id=target["id"], suspended=True))
        return {"acknowledged": ids, "applied": len(fresh)}

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

    def media_bytes(self, post_id: str) -> bytes | None:
        with self.sessions() as s:
            post = s.get(DemoPost, post_id)
        if post is None or post.media_file is None or post.visibility not in ("pending",
                                                                               "visible"):
            return None
        return (self.media_dir / post.media_file).read_bytes()

    def page(self) -> str:
        with self.sessions() as s:
            posts = list(s.scalars(select(DemoPost).where(DemoPost.kind != "repost")
                                   .order_by(DemoPost.id).limit(200)))
            counts: dict[str, int] = {}
            for post in s.scalars(select(DemoPost)):
                counts[post.visibility] = counts.get(post.visibility, 0) + 1
            suspended = [a.id for a in s.scalars(select(DemoAccount).where(
                DemoAccount.suspended.is_(True)))]
        return self.templates.get_template("index.html").render(
            posts=posts, counts=counts, suspended=suspended)

    # --- HTTP --------------------------------------------------------------------

    def app(self) -> FastAPI:
        app = FastAPI(title="takedown demo platform", docs_url=None, redoc_url=None,
                      openapi_url=None)

        @app.get("/", response_class=HTMLResponse)
        def index() -> str:
            return self.page()

        @app.get("/media/{post_id}")
        def media(post_id: str) -> Response:
            data = self.media_bytes(post_id)
            if data is None:
                raise HTTPException(404, "no such media")
            return Response(data, media_type="image/jpeg")

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
            except SignatureError as exc:
                return JSONResponse({"error": str(exc)}, status_code=401)
            return JSONResponse(result)

        return app


def _apply_to_post(post: DemoPost | None, kind: str) -> None:
    if post is None:
        return
    if kind == "restore" and post.visibility != "hidden":
        return  # restore only lifts a restriction, never undoes a removal
    post.visibility = _VISIBILITY_AFTER.get(kind, post.visibility)


def _demo_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()

