"""`takedown demo`: the case in DEVELOPERS.md, replayed against a running takedown.

An original post with (harmless, generated) media spreads: 2,223 reposts, some of
reposts, a few quotes, exact re-uploads by other accounts, altered re-uploads (re-encoded,
resized, cropped, watermarked, mirrored, greyscaled, rotated 3°, cropped 5% from the top
at JPEG quality 50, letterboxed 8%), an album pairing a copy with a meme that other
accounts post alone, views accruing towards 167,000. The same account posts a video,
which another account re-cuts into a clip. The boy reports a repost of each; his mother
reports the picture and the video twice with police case numbers; while the case waits
for review, more copies are uploaded (each must be restricted at once); a child-safety
specialist decides. Then re-uploads are attempted with every edit in `EDITS`, a new clip
of the video, a frame grabbed from it and a slideshow of the picture (each must be
blocked), and the meme alone once more (it must be allowed).

The platform's clock is compressed (views accrue in simulated time), but after the first
report each simulated half hour of views is applied only after `tick_s` real seconds,
whatever takedown has done by then: views go only to posts visible when a tick is
applied, so views that accrue before takedown hides the content, or on a copy it let
through, are counted, not waited away. The two `_s` figures are real seconds of
takedown's work, from the HTTP request to the last webhook the demo platform
acknowledged.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from takedown.demo.app import DemoPlatform, MediaSpec, PostIn
from takedown.demo.bootstrap import DemoLogin
from takedown.demo.edits import EDITS
from takedown.demo.media import ALTERATIONS
from takedown.demo.ncmec import StandInNcmec
from takedown.legal.tdb import statement_errors

START = datetime(2020, 1, 20, tzinfo=UTC)
FIRST_REPORT_HOUR = 48.0
HORIZON_HOURS = 216.0  # nine days: when the real videos finally came down


@dataclass(frozen=True)
class ScenarioConfig:
    reposts: int = 2223
    reuploads: int = 6
    quotes: int = 40
    benign: int = 30
    counterfactual_views: int = 167_000
    tick_s: float = 2.0
    settle_timeout_s: float = 120.0


@dataclass
class Post:
    id: str
    author: str
    hour: float
    seed: int | None = None
    repost_of: str | None = None
    quote_of: str | None = None
    weight: float = 1.0
    variant: str | None = None
    media: tuple[MediaSpec, ...] = ()

    def post_in(self) -> PostIn:
        return PostIn(id=self.id, author=self.author, text=f"post {self.id}",
                      image_seed=self.seed, variant=self.variant, media=list(self.media),
                      repost_of=self.repost_of, quote_of=self.quote_of,
                      created_at=START + timedelta(hours=self.hour))


# The re-uploaders' harder edits (names in EDITS), each a re-upload that others repost.
HARDER_ALTERATIONS = {"rotated-3": "rotated +3 degrees, black corners",
                      "cropped-top-5": "cropped 5% from the top, JPEG quality 50",
                      "letterbox-8": "letterbox 8%"}
PICTURE = MediaSpec(kind="photo", seed=1)  # stands for the abusive picture
MEME = MediaSpec(kind="harmless", seed=77)  # a common picture many people post
VIDEO = MediaSpec(kind="video", seed=1, seconds=10.0)  # stands for the abusive video
VIDEO_CLIP = MediaSpec(kind="video", seed=1, seconds=10.0, clip=(1.37, 5.0))
HARMLESS_VIDEOS = (MediaSpec(kind="video", seed=2, seconds=10.0),
                   MediaSpec(kind="video", seed=3, seconds=10.0))
MEME_POSTS = 5
# Uploaded while the case waits for a decision (each must be answered `restrict`): by
# name, the post's id and what it carries.
DURING_REVIEW: dict[str, tuple[str, dict[str, Any]]] = {
    "exact": ("during-exact", {"seed": 1}),
    "rotated -2.5 degrees": ("during-rotated",
                             {"seed": 1, "variant": "rotated -2.5 degrees, black corners"}),
    "cropped 5% from the left": ("during-cropped",
                                 {"seed": 1, "variant": "cropped 5% from the left"}),
    "a clip of the video from 3.7 s": ("during-clip", {"media": (
        MediaSpec(kind="video", seed=1, seconds=10.0, clip=(3.7, 3.0)),)}),
}


def cumulative_views(hour: float, total: int) -> float:
    """Views the copies would have had by `hour` without takedown: slow, then viral."""
    return total * min(1.0, hour / HORIZON_HOURS) ** 2


def apportion(total: float, weights: dict[str, float]) -> dict[str, int]:
    """Whole views per post, proportional to weight, summing to round(total): largest
    remainders get the leftover views, so small shares are not rounded away."""
    whole = round(total)
    scale = sum(weights.values())
    exact = {k: whole * w / scale for k, w in weights.items()}
    shares = {k: int(v) for k, v in exact.items()}
    leftover = whole - sum(shares.values())
    for key in sorted(exact, key=lambda k: exact[k] - shares[k], reverse=True)[:leftover]:
        shares[key] += 1
    return shares


class SeedCase:
    def __init__(self, base_url: str, demo: DemoPlatform, tokens: dict[str, DemoLogin],
                 config: ScenarioConfig, say: Callable[[str], None],
                 ncmec: StandInNcmec | None = None) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=60)
        self.demo = demo
        self.ncmec = ncmec  # the stand-in NCMEC, unless a real endpoint is configured
        self.specialist = {"Authorization": f"Bearer {tokens['specialist-ana'].token}"}
        self.liaison = {"Authorization": f"Bearer {tokens['liaison-lee'].token}"}
        self.config = config
        self.say = say
        self.rng = random.Random(2020)
        self.copies: list[Post] = []
        self.benign: list[Post] = []
        self.video_repost = "video"  # the repost of the video the boy reports
        self.viewed_after_report: set[str] = set()  # copies that got views all the same
        self.result: dict[str, Any] = {}

    # --- the story ---------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        self._spread()
        views_before = self._accrue(0.0, FIRST_REPORT_HOUR, step=6.0)
        self._unrelated_reports()
        self.result["views_before_first_report"] = views_before
        self.say(f"day 2, 00:00  {len(self.copies)} copies online, {views_before:,} views")
        after = self._reports_and_decision()
        after += self._accrue(FIRST_REPORT_HOUR + 2.0, HORIZON_HOURS, step=12.0)
        self.result["views_after_first_report"] = after
        self.result["copies_viewed_after_first_report"] = sorted(self.viewed_after_report)[:20]
        self._blocked_reuploads()
        self._tally()
        self._cybertipline()
        return self.result

    def _spread(self) -> None:
        rng, cfg = self.rng, self.config
        original = Post("orig", "acct-trafficker", 0.0, seed=1, weight=400.0)
        video = Post("video", "acct-trafficker", 2.0, media=(VIDEO,), weight=200.0)
        reuploads = [Post(f"reupload-{i}", f"acct-uploader-{i}", 4.0 + 6 * i, seed=1,
                          weight=60.0) for i in range(cfg.reuploads)]
        altered = [Post(f"altered-{name}", f"acct-alt-{name}", 8.0 + 5 * i, seed=1,
                        variant=name, weight=40.0) for i, name in enumerate(ALTERATIONS)]
        altered += [Post(f"altered-{key}", f"acct-alt-{key}", 10.5 + 10 * i, seed=1,
                         variant=name, weight=40.0)
                    for i, (key, name) in enumerate(HARDER_ALTERATIONS.items())]
        clipped = Post("video-clip", "acct-clipper", 12.0, media=(VIDEO_CLIP,), weight=60.0)
        album = Post("album", "acct-album", 16.0, media=(PICTURE, MEME), weight=60.0)
        sources = [original, video, *reuploads, *altered, clipped, album]
        reposts: list[Post] = []
        for n in range(cfg.reposts):
            hour = 1.0 + 46.0 * n / cfg.reposts
            pool = [p for p in sources if p.hour < hour] or [original]
            parent = rng.choice(reposts[-300:]) if reposts and rng.random() < 0.2 else \
                rng.choice(pool)
            reposts.append(Post(f"repost-{n}", f"acct-{rng.randrange(100_000)}", hour,
                                repost_of=parent.id))
        quotes = [Post(f"quote-{i}", f"acct-q{i}", 2.0 + i, quote_of="orig")
                  for i in range(cfg.quotes)]
        self.video_repost = next((p.id for p in reposts if p.repost_of == video.id), video.id)
        self.copies = sorted([*sources, *reposts, *quotes], key=lambda p: p.hour)
        # Benign posts: pictures in the very same style as the original (same generator,
        # size, colours and shapes), the meme of the album posted alone by other accounts,
        # and videos made like the original's: none may ever be touched.
        self.benign = [Post(f"benign-{i}", f"acct-b{i}", 0.5 * i, seed=10_001 + i, weight=5.0)
                       for i in range(cfg.benign)]
        self.benign += [Post(f"meme-{i}", f"acct-meme-{i}", 3.0 + 2.5 * i, media=(MEME,),
                             weight=5.0) for i in range(MEME_POSTS)]
        self.benign += [Post(f"benign-video-{i}", f"acct-bv{i}", 5.0 + 7 * i, media=(spec,),
                             weight=5.0) for i, spec in enumerate(HARMLESS_VIDEOS)]
        everything = sorted(self.copies + self.benign, key=lambda p: p.hour)
        for start in range(0, len(everything), 500):
            self.demo.create_posts([p.post_in() for p in everything[start:start + 500]])
        self.say(f"day 0        'orig' and a video posted; {cfg.reposts:,} reposts, "
                 f"{cfg.quotes} quotes, {cfg.reuploads} exact re-uploads, {len(altered)} "
                 f"altered ones ({', '.join([*ALTERATIONS, *HARDER_ALTERATIONS])}), a re-cut "
                 "clip of the video and an album pairing the picture with a meme follow over "
                 f"two days, beside {cfg.benign} benign posts in the same style, the meme "
                 f"alone in {MEME_POSTS} posts and {len(HARMLESS_VIDEOS)} harmless videos")

    def _accrue(self, start: float, end: float, step: float) -> int:
        """Views for the copies between two simulated hours; returns those applied."""
        applied, hour = 0, start
        while hour < end - 1e-9:
            nxt = min(end, hour + step)
            applied += self._tick(hour, nxt)
            hour = nxt
        return applied

    def _tick(self, start: float, end: float) -> int:
        total = cumulative_views(end, self.config.counterfactual_views) - \
            cumulative_views(start, self.config.counterfactual_views)
        live = [p for p in self.copies if p.hour < end]
        deltas = apportion(total, {p.id: p.weight for p in live})
        at = START + timedelta(hours=end)
        self.demo.add_views({p.id: 3 for p in self.benign}, at)
        applied = self.demo.apply_views({k: v for k, v in deltas.items() if v > 0}, at)
        if start >= FIRST_REPORT_HOUR:
            self.viewed_after_report.update(applied)
        return sum(applied.values())

    def _unrelated_reports(self) -> None:
        """Other cases in the queue, so that the seed case has to rise above them."""
        for post, category in (("benign-3", "terms_violation"), ("benign-5", "other_illegal"),
                               ("benign-7", "terms_violation")):
            self._report({"content_ids": [post], "category": category,
                          "reporter_relation": "other_user", "text": "looks like spam"})

    def _reports_and_decision(self) -> int:
        boy = {"urls": [f"{self.demo.public_url}/demo/posts/repost-17",
                        f"{self.demo.public_url}/demo/posts/{self.video_repost}"],
               "category": "child_sexual_abuse", "reporter_relation": "depicted_person",
               "depicted_minor": True, "age_at_time": 13, "age_now": 16,
               "contact_email": "boy@example.org",
               "text": "These videos of me were made when I was 13. Traffickers forced me."}
        mother = {"content_ids": ["orig", "video"], "category": "child_sexual_abuse",
                  "reporter_relation": "parent_guardian", "depicted_minor": True,
                  "age_at_time": 13, "age_now": 16, "contact_email": "mother@example.org",
                  "case_numbers": ["PD-2020-011723"],
                  "text": "This is my son. The police are investigating."}
        views = 0
        started = time.monotonic()
        wall = time.time()
        self._report(boy)
        views += self._paced_tick(started, FIRST_REPORT_HOUR)
        hidden_at = self._settled("hidden", wall)
        self.result["first_report_to_hidden_s"] = round(hidden_at - wall, 3)
        self._note_priority("day 2, 00:00  the boy reports a repost of the picture and one "
                            "of the video; content hidden", hidden_at - wall)
        for n, numbers in enumerate((["PD-2020-011723"], ["PD-2020-011723", "FBI-2020-77"])):
            started = time.monotonic()
            self._report(mother | {"case_numbers": numbers})
            views += self._paced_tick(started, FIRST_REPORT_HOUR + 0.5 * (n + 1))
            when = "day 2, 00:30  his mother reports" if n == 0 else \
                "day 2, 01:00  his mother reports again"
            self._note_priority(f"{when} with case numbers {', '.join(numbers)}", None)
        self._uploads_during_review()
        started = time.monotonic()
        wall = time.time()
        decided = self.http.post(f"/v1/cases/{self.result['case_id']}/decisions",
                                 headers=self.specialist,
                                 json={"outcome": "violation", "notes": "CSAM, victim aged 13"})
        decided.raise_for_status()
        views += self._paced_tick(started, FIRST_REPORT_HOUR + 1.5)
        removed_at = self._settled("removed", wall)
        self.result["decision_to_last_removal_s"] = round(removed_at - wall, 3)
        self.say(f"day 2, 01:30  a specialist confirms: violation; every copy removed in "
                 f"{removed_at - wall:.2f} s")
        return views

    def _uploads_during_review(self) -> None:
        """Copies uploaded while the case waits for a specialist: each must be answered
        `restrict` (and so get no views); they join the copies to be removed."""
        posts = {name: Post(post_id, f"acct-{post_id}", FIRST_REPORT_HOUR + 1.25, weight=40.0,
                            **what) for name, (post_id, what) in DURING_REVIEW.items()}
        verdicts = {name: self.demo.create_post(p.post_in())["verdict"]
                    for name, p in posts.items()}
        self.copies.extend(posts.values())
        restricted = [name for name, verdict in verdicts.items() if verdict == "restrict"]
        self.result["uploads_during_review"] = len(verdicts)
        self.result["uploads_during_review_restricted"] = len(restricted)
        self.result["uploads_during_review_not_restricted"] = sorted(
            f"{name}: {verdict}" for name, verdict in verdicts.items() if verdict != "restrict")
        self.say(f"day 2, 01:15  {len(verdicts)} copies uploaded during review "
                 f"({', '.join(verdicts)}): {len(restricted)} restricted at once")

    def _paced_tick(self, started: float, hour: float) -> int:
        """The platform's next half hour comes after tick_s real seconds, ready or not."""
        time.sleep(max(0.0, started + self.config.tick_s - time.monotonic()))
        return self._tick(hour, hour + 0.5)

    def _settled(self, visibility: str, since: float) -> float:
        """When the demo platform acknowledged the last action that made every copy
        `visibility` (waiting for it, up to a limit)."""
        ids = {p.id for p in self.copies}
        deadline = time.monotonic() + self.config.settle_timeout_s
        while time.monotonic() < deadline:
            if all(p.visibility == visibility for p in self.demo.posts(sorted(ids))):
                break
            time.sleep(0.05)
        kind = {"hidden": "restrict", "removed": "remove"}[visibility]
        times = [a.received_at for a in self.demo.actions()
                 if a.type == kind and a.target_id in ids and a.received_at >= since]
        return max(times, default=float("nan"))

    def _report(self, body: dict[str, Any]) -> dict[str, Any]:
        response = self.http.post("/v1/reports", json=body)
        response.raise_for_status()
        receipt: dict[str, Any] = response.json()
        return receipt

    def _note_priority(self, line: str, seconds: float | None) -> None:
        queue = self.http.get("/v1/cases", headers=self.specialist).json()
        top = queue[0]
        self.result.setdefault("case_id", top["id"])
        self.result.setdefault("priorities", []).append(top["priority"])
        self.result["top_of_queue"] = top["id"] == self.result["case_id"]
        self.result["deadline_s"] = top["seconds_left"]
        extra = f" in {seconds:.2f} s" if seconds is not None else ""
        self.say(f"{line}{extra} — priority {top['priority']:.1f}, top of the queue of "
                 f"{len(queue)}, {top['seconds_left'] // 60} min to the deadline")

    def _blocked_reuploads(self) -> None:
        """After the decision: every attempt to bring the picture or the video back must be
        blocked, and the meme alone must still be allowed."""
        edits = [e.name for e in EDITS if e.name not in HARDER_ALTERATIONS.values()]
        attempts: list[tuple[str, dict[str, Any]]] = [
            ("exact", {"seed": 1}),
            ("a repost", {"repost_of": "orig"}),
            *((name, {"seed": 1, "variant": name})
              for name in (*ALTERATIONS, *HARDER_ALTERATIONS.values())),
            ("the album again", {"media": (PICTURE, MEME)}),
            ("a repost of the video", {"repost_of": "video"}),
            ("a clip of the video from 0.62 s", {"media": (
                MediaSpec(kind="video", seed=1, seconds=10.0, clip=(0.62, 5.0)),)}),
            ("a frame of the video at 5.2 s", {"media": (
                MediaSpec(kind="frame", seed=1, seconds=10.0, at=5.2),)}),
            ("a slideshow of the picture between two harmless ones", {"media": (
                MediaSpec(kind="slideshow", slides=[MediaSpec(kind="harmless", seed=8), PICTURE,
                                                    MediaSpec(kind="harmless", seed=9)]),)}),
            *((f"edit: {name}", {"seed": 1, "variant": name}) for name in edits)]
        verdicts: dict[str, str] = {}
        for n, (name, what) in enumerate(attempts):
            post = Post(f"late-{n}", f"acct-late-{n}", FIRST_REPORT_HOUR + 3.0, **what)
            verdicts[name] = self.demo.create_post(post.post_in())["verdict"]
        allowed = [name for name, verdict in verdicts.items() if verdict != "block"]
        self.result["reupload_attempts"] = len(verdicts)
        self.result["reupload_attempts_blocked"] = len(verdicts) - len(allowed)
        self.result["reupload_attempts_allowed"] = allowed
        self.say(f"day 2, 03:00  {len(verdicts)} re-uploads (exact, a repost, "
                 f"{len(ALTERATIONS) + len(HARDER_ALTERATIONS)} altered, the album, a repost "
                 f"and a new clip of the video, a frame of it, a slideshow, {len(edits)} more "
                 f"edits) are attempted: {len(verdicts) - len(allowed)} blocked"
                 + (f"; NOT blocked: {', '.join(allowed)}" if allowed else ""))
        meme = Post("meme-late", "acct-meme-late", FIRST_REPORT_HOUR + 3.0, media=(MEME,))
        verdict = self.demo.create_post(meme.post_in())["verdict"]
        self.result["benign_reupload_allowed"] = verdict == "allow"
        self.say(f"day 2, 03:00  the meme is posted alone again: {verdict}")

    def _tally(self) -> None:
        copies = {p.id for p in self.copies}
        posts = self.demo.posts()
        self.result["copies_total"] = len(copies)
        self.result["copies_removed"] = sum(
            1 for p in posts if p.id in copies and p.visibility == "removed")
        self.result["copies_left_visible"] = sum(
            1 for p in posts if p.id in copies and p.visibility in ("visible", "pending"))
        benign = {p.id for p in self.benign}
        self.result["benign_total"] = len(benign)
        self.result["benign_removed"] = sum(
            1 for p in posts if p.id in benign and p.visibility != "visible")
        self.result["altered_reuploads_removed"] = sum(
            1 for p in posts if p.id.startswith("altered-") and p.id in copies
            and p.visibility == "removed")
        suspended = [a for a in self.demo.actions() if a.type == "suspend"]
        self.result["accounts_suspended"] = len(suspended)
        # The album's author posted a copy: not benign, though the album holds the meme.
        self.result["benign_suspended"] = len(
            {p.author for p in self.benign} & self.demo.suspended_accounts())
        self.result["counterfactual_views"] = self.config.counterfactual_views
        # Every restriction and removal reached the platform with a statement of reasons
        # (DSA Art. 17) that the Transparency Database's schema accepts.
        received = [body for case_id, body in self.demo.statements.values()
                    if case_id == self.result.get("case_id")]
        self.result["statements_total"] = len(received)
        self.result["statements_valid"] = sum(
            1 for body in received if body is not None and not statement_errors(body))


    # --- the law follows ----------------------------------------------------------

    def _cybertipline(self) -> None:
        """The specialist checks the CyberTipline draft once the platform has sent its
        uploaders' details, submits it, and takedown's workers send it to NCMEC (the
        stand-in); a liaison then looks at the preserved evidence."""
        path = f"/v1/cases/{self.result['case_id']}/cybertipline"
        started = time.monotonic()
        draft = self._await(path, lambda r: not r["accounts_pending"])
        submitted = self.http.post(f"{path}/submit", headers=self.specialist)
        submitted.raise_for_status()
        done = self._await(path, lambda r: r["stage"] in ("finished", "stopped"))
        accepted = done["stage"] == "finished"
        if self.ncmec is not None:
            report = self.ncmec.reports.get(done["ncmec_report_id"] or -1)
            accepted = accepted and report is not None and report.finished
        self.result["cybertipline_report_accepted"] = accepted
        self.result["cybertipline_report_id"] = done["ncmec_report_id"]
        self.result["cybertipline_stage"] = done["stage"]
        self.result["cybertipline_error"] = done["error"]
        self.result["cybertipline_files"] = len(done["files"])
        self.result["cybertipline_accounts_waited_for"] = not draft["accounts_pending"]
        self.result["draft_to_cybertipline_accepted_s"] = round(time.monotonic() - started, 3)
        evidence = self.http.get(f"/v1/cases/{self.result['case_id']}/evidence",
                                 headers=self.liaison,
                                 params={"reason": "demo: the seed case's evidence"})
        evidence.raise_for_status()
        self.result["evidence_items_preserved"] = sum(
            1 for item in evidence.json()["items"] if item["purged_at"] is None)
        self.say(f"day 2, 03:30  a specialist submits the CyberTipline report: report "
                 f"{done['ncmec_report_id']} "
                 f"{'accepted by NCMEC (stand-in)' if accepted else done['stage']} with "
                 f"{len(done['files'])} files; "
                 f"{self.result['evidence_items_preserved']} evidence items sealed")

    def _await(self, path: str, ready: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        deadline = time.monotonic() + self.config.settle_timeout_s
        while True:
            answer = self.http.get(path, headers=self.specialist)
            if answer.status_code == 200 and ready(answer.json()):
                return dict(answer.json())
            if time.monotonic() > deadline:
                answer.raise_for_status()
                return dict(answer.json())
            time.sleep(0.2)


def run_seed_case(settings: Any, config: ScenarioConfig,
                  say: Callable[[str], None]) -> dict[str, Any]:
    """Start takedown with the demo platform on a free local port, and replay the case."""
    from takedown.api.app import create_app
    from takedown.demo.bootstrap import demo_ncmec, demo_platform
    from takedown.server import BackgroundServer, free_port
    from takedown.system import Takedown

    port = free_port()
    settings, ncmec = demo_ncmec(settings, f"http://127.0.0.1:{port}")
    system = Takedown(settings)
    try:
        system.migrate()
        system.warm_up()
        demo, tokens = demo_platform(system, f"http://127.0.0.1:{port}")
        try:
            with BackgroundServer(create_app(system, demo=demo, ncmec=ncmec), port) as server:
                return SeedCase(server.url, demo, tokens, config, say, ncmec).run()
        finally:
            demo.close()
    finally:
        system.close()
