"""Schemathesis against /openapi.json, on both databases: every operation, with valid
and invalid data, as a platform and as a reviewer, answers below 500 and as its
document says (status codes, content types, response bodies).

Bounded (EXAMPLES per operation and mode, derandomized: a failure reproduces as is)
so that a run takes a minute or two per database.

Each operation's Hypothesis strategy (`APIOperation.as_strategy`, schemathesis's API
for tests of one's own) is run here rather than through `@schema.parametrize()`: the
schema needs the `system` fixture, and schemathesis 4.32's fixture-based loader
(`schemathesis.pytest.from_fixture`) fails under pytest 9 (`Function._nodeid`)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import APIOperation, Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from takedown.api.app import create_app
from takedown.domain.vocabulary import Role
from takedown.system import Takedown
from tests.conftest import Receiver
from tests.helpers import register, report

# TAKEDOWN_FUZZ_EXAMPLES=200 for a deeper (slower) run.
EXAMPLES = int(os.environ.get("TAKEDOWN_FUZZ_EXAMPLES", "20"))
Operation = APIOperation[Any, Any, Any, Any]
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


@dataclass(frozen=True)
class Seeded:
    """What exists before fuzzing: credentials (a platform's key and an admin's token,
    sent together: each route reads its own) and a real case to aim at."""

    credentials: dict[str, str]
    path: dict[str, Any]  # case_id, content_id, report_id, reporter_key
    status_token: str


def seed(system: Takedown, receiver: Receiver) -> tuple[Any, Seeded]:
    """An app holding a case about a post with a picture, reported by law enforcement."""
    key, _ = system.add_platform("fuzznet", receiver.url, webhook_secret=receiver.secret)
    bearer = {"Authorization": f"Bearer {system.add_user('fuzz-admin', Role.ADMIN)}"}
    app = create_app(system, run_workers=False)
    with TestClient(app) as client:
        register(client, {"X-Api-Key": key}, "post", seed=1)
        receipt = report(client, content_ids=["post"], relation="law_enforcement",
                         contact_email="officer@police.example")
        case = client.get("/v1/cases", headers=bearer).json()[0]
        detail = client.get(f"/v1/cases/{case['id']}", headers=bearer).json()
    path = {"case_id": case["id"], "content_id": "post", "report_id": receipt["report_id"],
            "reporter_key": detail["reports"][0]["reporter"]["key"]}
    return app, Seeded({"X-Api-Key": key, **bearer}, path, receipt["status_token"])


def operations(app: Any) -> Iterator[Operation]:
    for result in schemathesis.openapi.from_asgi("/openapi.json", app).get_all_operations():
        assert isinstance(result, Ok), result
        yield result.ok()


def cases(operation: Operation, mode: GenerationMode, seeded: Seeded) -> Any:
    """Anything the document allows (or, negative, does not), and as often the same
    aimed at the seeded case: random ids are almost all unknown, a 404 early on."""
    anything = operation.as_strategy(generation_mode=mode)
    known = {p.name: seeded.path[p.name] for p in operation.path_parameters
             if p.name in seeded.path}
    if not known:
        return anything
    headers = {"X-Status-Token": seeded.status_token} if "report_id" in known else None
    return st.one_of(anything, operation.as_strategy(generation_mode=mode,
                                                     path_parameters=known, headers=headers))


def fuzz(operation: Operation, mode: GenerationMode, seeded: Seeded) -> str | None:
    """None, or what went wrong (shrunk to a small example by Hypothesis)."""
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck),
              phases=[Phase.explicit, Phase.generate, Phase.shrink])
    @given(case=cases(operation, mode, seeded))
    def run(case: Case[Operation]) -> None:
        case.validate_response(case.call(headers=seeded.credentials), checks=CHECKS)

    try:
        run()
    except Unsatisfiable:  # nothing to make invalid: no parameters, no body
        assert mode is GenerationMode.NEGATIVE, operation.label
    except (Exception, BaseExceptionGroup) as exc:  # a failed check; the rest still run
        return f"{operation.label} ({mode.value}): {exc}"
    return None


def test_no_operation_answers_a_server_error_or_off_its_document(
        system: Takedown, receiver: Receiver) -> None:
    app, seeded = seed(system, receiver)
    failures = [failure for operation in operations(app)
                for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
                if (failure := fuzz(operation, mode, seeded))]
    assert not failures, "\n\n".join(failures)
