"""A few posts for `takedown serve --demo`, so a newcomer has something to report."""

from __future__ import annotations

import logging
import threading
import time

from takedown.demo.app import DemoPlatform, PostIn

log = logging.getLogger(__name__)


def seed_posts() -> list[PostIn]:
    posts = [PostIn(id=f"post-{n}", author=f"user-{n}", text=f"Holiday picture {n}",
                    image_seed=n) for n in range(1, 6)]
    posts += [PostIn(id=f"post-1-repost-{n}", author=f"fan-{n}", repost_of="post-1")
              for n in range(1, 4)]
    posts.append(PostIn(id="post-2-copy", author="user-9", text="Re-upload", image_seed=2))
    return posts


def seed_in_background(platform: DemoPlatform) -> None:
    """Post once the server answers (the demo registers posts over HTTP)."""

    def run() -> None:
        for _ in range(100):
            try:
                platform.create_posts(seed_posts())
                return
            except Exception:  # the server is not up yet
                time.sleep(0.2)
        log.warning("could not seed the demo platform")

    threading.Thread(target=run, name="demo-seed", daemon=True).start()
