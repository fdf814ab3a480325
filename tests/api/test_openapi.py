"""Every endpoint, field and error is documented in /openapi.json."""

from typing import Any

from fastapi.testclient import TestClient


def _schema(client: TestClient) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    schema: dict[str, Any] = response.json()
    return schema


def test_every_operation_has_a_summary_a_description_and_its_errors(
        client: TestClient) -> None:
    paths = _schema(client)["paths"]
    expected = {"/v1/content", "/v1/content/{content_id}", "/v1/content/reach",
                "/v1/platform/actions", "/v1/reports", "/v1/reports/{report_id}/status",
                "/v1/cases", "/v1/cases/{case_id}", "/v1/cases/{case_id}/decisions",
                "/v1/actions", "/healthz", "/readyz"}
    assert expected <= set(paths)
    for path, operations in paths.items():
        for method, op in operations.items():
            where = f"{method.upper()} {path}"
            assert op.get("summary"), where
            assert op.get("description"), where
            if path not in ("/healthz", "/readyz"):  # probes: no client errors
                errors = {c for c in op["responses"] if c.startswith("4")}
                assert errors, f"{where} documents no error"
                for code in errors:
                    ref = op["responses"][code]["content"]["application/json"]["schema"]["$ref"]
                    assert ref.endswith("/ErrorResponse"), where
            for parameter in op.get("parameters", []):
                assert parameter.get("description"), f"{where} {parameter['name']}"


def test_every_field_of_every_body_is_described(client: TestClient) -> None:
    schemas = _schema(client)["components"]["schemas"]
    undocumented = [f"{name}.{field}"
                    for name, schema in schemas.items()
                    if not name.startswith(("HTTPValidationError", "ValidationError"))
                    for field, spec in schema.get("properties", {}).items()
                    if not spec.get("description") and name != "ErrorResponse"]
    assert undocumented == []


def test_unknown_route_is_a_json_404(client: TestClient) -> None:
    response = client.get("/v1/nothing-here")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
