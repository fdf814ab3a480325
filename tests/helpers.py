"""Small helpers for driving the API in tests."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from takedown.demo.media import generated_photo

WHEN = "2020-01-20T10:00:00Z"
# The shared conformance sets (see its README): ../shared/reference beside the
# checkout, or shared/reference inside it.
_REPO = Path(__file__).resolve().parents[1]
REFERENCE = next((p for p in (_REPO.parent / "shared" / "reference",
                              _REPO / "shared" / "reference") if p.exists()),
                 _REPO.parent / "shared" / "reference")


def reference(*parts: str) -> Path:
    """A file of the reference sets; the test is skipped, saying where it looked, if
    the sets are not there."""
    path = REFERENCE.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"reference data not found: {path}")
    return path


def image_b64(seed: int) -> str:
    return base64.b64encode(generated_photo(seed, (320, 240))).decode()


def register(client: TestClient, api: dict[str, str], content_id: str, *,
             author: str | None = None, seed: int | None = None, repost_of: str | None = None,
             quote_of: str | None = None, url: str | None = None,
             expect: int | None = 201) -> dict[str, Any]:
    body: dict[str, Any] = {"content_id": content_id, "author_id": author or f"a-{content_id}",
                            "created_at": WHEN, "text": f"text of {content_id}"}
    if seed is not None:
        body["media"] = [{"data_base64": image_b64(seed)}]
    if repost_of:
        body["repost_of"] = repost_of
    if quote_of:
        body["quote_of"] = quote_of
    if url:
        body["url"] = url
    response = client.post("/v1/content", json=body, headers=api)
    if expect is not None:
        assert response.status_code == expect, response.text
    answer: dict[str, Any] = response.json()
    return answer


def report(client: TestClient, *, content_ids: list[str] | None = None,
           category: str = "child_sexual_abuse", relation: str = "other_user",
           expect: int = 202, headers: dict[str, str] | None = None,
           **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"content_ids": content_ids or [], "category": category,
                            "reporter_relation": relation, **extra}
    response = client.post("/v1/reports", json=body, headers=headers or {})
    assert response.status_code == expect, response.text
    settle(client)
    answer: dict[str, Any] = response.json()
    return answer


def settle(client: TestClient) -> None:
    """Work received reports into their cases and find their copies: both run off the
    request path (takedown.pipeline.intake, .copies), on workers tests do not start."""
    client.app.state.takedown.settle()  # type: ignore[attr-defined]


def only_case(client: TestClient, bearer: dict[str, str]) -> dict[str, Any]:
    queue = client.get("/v1/cases", headers=bearer).json()
    assert len(queue) == 1, queue
    case: dict[str, Any] = queue[0]
    return case


def states(client: TestClient, api: dict[str, str], *ids: str) -> dict[str, str]:
    return {i: client.get(f"/v1/content/{i}", headers=api).json()["moderation_state"]
            for i in ids}



def photo_jpeg(seed: int, size: tuple[int, int] = (1024, 768), quality: int = 88) -> bytes:
    from takedown.demo.media import generated_photo

    return generated_photo(seed, size, quality)
