"""The one place where errors become HTTP responses: always `{"code", "message"}`."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from licensor.kit.errors import LicensorError
from licensor.kit.integrity import conflict_for
from licensor.kit.responses import ORJSONResponse

log = logging.getLogger("licensor")

HTTP_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
    408: "REQUEST_TIMEOUT",
    415: "UNSUPPORTED_MEDIA_TYPE",
    429: "RATE_LIMITED",
    431: "HEADERS_TOO_LARGE",
    503: "SERVICE_UNAVAILABLE",
}

# PostgreSQL refusing a character in text (NUL in a query parameter or path id): bad input.
INVALID_TEXT_SQLSTATES = frozenset({"22021", "22P05"})
FASTAPI_BODY_PARSE_ERROR = "There was an error parsing the body"
UNDECODABLE_BODY = "body: not valid JSON (UTF-8)"


def describe_validation_errors(errors: Sequence[object]) -> str:
    parts = []
    for err in errors[:10]:
        if not isinstance(err, dict):
            continue
        if err.get("type") == "json_invalid" and len(err.get("loc", ())) == 2:
            # FastAPI's own JSON decoding: ("body", position), the decoder's words in ctx
            detail = (err.get("ctx") or {}).get("error", "invalid")
            parts.append(f"body: not valid JSON ({detail} at position {err['loc'][1]})")
            continue
        loc = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body",))
        parts.append(f"{loc or 'body'}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


# A face that answers in HTML (the console) registers `app.state.error_page`: given the
# request, status, code, message and headers, its page, or None to answer in JSON.
ErrorPage = Callable[[Request, int, str, str, "Mapping[str, str] | None"], "Response | None"]


def _answer(
    request: Request, status: int, code: str, message: str, headers: Mapping[str, str] | None
) -> Response:
    page: ErrorPage | None = getattr(request.app.state, "error_page", None)
    if page is not None:
        html = page(request, status, code, message, headers)
        if html is not None:
            return html
    return ORJSONResponse({"code": code, "message": message}, status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(LicensorError)
    async def _licensor(request: Request, exc: LicensorError) -> Response:
        return _answer(request, exc.status_code, exc.code, exc.message, exc.headers())

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        message = describe_validation_errors(list(exc.errors()))
        return _answer(request, 422, "VALIDATION_ERROR", message, None)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 400 and exc.detail == FASTAPI_BODY_PARSE_ERROR:
            # FastAPI's answer to a body it cannot decode (e.g. not UTF-8): malformed JSON,
            # so the documented 422 VALIDATION_ERROR, as the public routes already answer.
            return _answer(request, 422, "VALIDATION_ERROR", UNDECODABLE_BODY, None)
        code = HTTP_CODES.get(exc.status_code, "HTTP_ERROR")
        message = exc.detail if isinstance(exc.detail, str) else code.lower().replace("_", " ")
        return _answer(request, exc.status_code, code, message, exc.headers)

    @app.exception_handler(DBAPIError)
    async def _database(request: Request, exc: DBAPIError) -> Response:
        conflict = conflict_for(exc) if isinstance(exc, IntegrityError) else None
        if conflict is not None:  # a concurrent request won the race for a unique value
            return _answer(request, conflict.status_code, conflict.code, conflict.message, None)
        sqlstate = str(getattr(exc.orig, "sqlstate", None) or "")
        if sqlstate in INVALID_TEXT_SQLSTATES:
            body = {"code": "VALIDATION_ERROR", "message": "text must not contain NUL characters"}
            return ORJSONResponse(body, status_code=422)
        if isinstance(exc, DataError) or sqlstate.startswith("22"):
            # Class 22 is "data exception": a value the database cannot hold is bad input.
            body = {"code": "VALIDATION_ERROR", "message": "a value cannot be stored"}
            return ORJSONResponse(body, status_code=422)
        log.exception("database error", exc_info=exc)
        return ORJSONResponse(
            {"code": "INTERNAL_ERROR", "message": "internal server error"}, status_code=500
        )

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> Response:
        log.exception("unhandled error", exc_info=exc)
        return ORJSONResponse(
            {"code": "INTERNAL_ERROR", "message": "internal server error"}, status_code=500
        )


class RejectNulCharacters:
    """A NUL in the path or query string is a 422 on every backend (PostgreSQL text cannot
    hold NUL, so without this SQLite would answer and PostgreSQL would fail)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (
            "\x00" in scope["path"] or b"%00" in scope.get("query_string", b"")
        ):
            body = {"code": "VALIDATION_ERROR", "message": "text must not contain NUL characters"}
            await ORJSONResponse(body, status_code=422)(scope, receive, send)
            return
        await self.app(scope, receive, send)
