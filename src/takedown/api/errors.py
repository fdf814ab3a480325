"""One error shape for every 4xx, and handlers that produce it."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from takedown.errors import TakedownError, TooManyRequests


class FieldError(BaseModel):
    field: str = Field(description="Where the problem is, e.g. `category` or `media[0].url`.")
    message: str = Field(description="What is wrong with it.")


class ErrorBody(BaseModel):
    code: str = Field(description="Stable machine-readable code, e.g. `invalid`, "
                                  "`unknown_content`, `malformed_json`.")
    message: str = Field(description="A sentence for a person.")
    fields: list[FieldError] = Field(default_factory=list,
                                     description="Each bad field, for validation errors.")


class ErrorResponse(BaseModel):
    error: ErrorBody


INVALID = ("Invalid fields, such as text with control characters or a number outside its "
           "documented range (an id beyond it is a 422, not a 404: no such id can exist); "
           "`fields` names each one.")


def error_response(status: int, code: str, message: str,
                   fields: list[dict[str, str]] | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "fields": fields or []}}
    return JSONResponse(body, status_code=status, headers=headers)


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [p for p in loc if p not in ("body", "query", "path", "header")]
    name = ""
    for part in parts:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name or "body"


def install(app: FastAPI) -> None:
    @app.exception_handler(TakedownError)
    async def _takedown(_: Request, exc: TakedownError) -> JSONResponse:
        headers = {"Retry-After": str(exc.retry_after)} \
            if isinstance(exc, TooManyRequests) else None
        return error_response(exc.status, exc.code, exc.message, exc.fields, headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            detail = errors[0].get("ctx", {}).get("error", "")
            return error_response(400, "malformed_json",
                                  f"the request body is not valid JSON: {detail}".strip(": "))
        fields = [{"field": _field_name(tuple(e.get("loc", ()))), "message": e.get("msg", "")}
                  for e in errors]
        names = ", ".join(dict.fromkeys(f["field"] for f in fields))
        return error_response(422, "invalid", f"invalid fields: {names}", fields)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed",
                413: "too_large"}.get(exc.status_code, "http_error")
        return error_response(exc.status_code, code, str(exc.detail),
                              headers=getattr(exc, "headers", None))


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error answers a route can give."""
    meaning = {
        400: "The body is not valid JSON (`malformed_json`).",
        401: "Missing or unknown credentials.",
        403: "Authenticated, but not allowed (e.g. `child_safety_only`).",
        404: "Unknown id (`unknown_case`, `unknown_content`, `unknown_report`).",
        409: "Conflicts with the current state, or an Idempotency-Key reused for another "
             "request.",
        413: "The request or a media file is larger than the limit.",
        422: INVALID,
        429: "Too many requests (`rate_limited`): `Retry-After` says when to try again.",
    }
    return {s: {"model": ErrorResponse, "description": meaning[s]} for s in statuses}


def use_error_shape_in_openapi(app: FastAPI) -> None:
    """FastAPI documents its own 422 body; takedown answers with ErrorResponse instead,
    so the document is rewritten to say what the API really returns."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        for operations in schema.get("paths", {}).values():
            for op in operations.values():
                answer = op.get("responses", {}).get("422")
                if answer:
                    answer["content"] = {"application/json": {"schema": {
                        "$ref": "#/components/schemas/ErrorResponse"}}}
                    answer["description"] = INVALID
        components = schema.get("components", {}).get("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            components.pop(name, None)
        components.setdefault("ErrorResponse", ErrorResponse.model_json_schema(
            ref_template="#/components/schemas/{model}"))
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
