"""The one error hierarchy. A single handler renders every one as `{"code", "message"}`."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel


class ErrorBody(BaseModel):
    code: str
    message: str


class LicensorError(Exception):
    status_code: ClassVar[int] = 400
    code: ClassVar[str] = "BAD_REQUEST"
    # Response headers HTTP requires with the status (see `headers()`).
    extra_headers: ClassVar[dict[str, str]] = {}

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code  # type: ignore[misc]

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message}

    def headers(self) -> dict[str, str]:
        """The response headers this error carries (its class's, by default)."""
        return dict(self.extra_headers)


class BadRequest(LicensorError):
    status_code = 400
    code = "BAD_REQUEST"


class Unauthorized(LicensorError):
    status_code = 401
    code = "UNAUTHORIZED"
    extra_headers = {"WWW-Authenticate": "Bearer"}  # RFC 9110: a 401 names its scheme


class Forbidden(LicensorError):
    status_code = 403
    code = "FORBIDDEN"


class NotFound(LicensorError):
    status_code = 404
    code = "NOT_FOUND"


class Conflict(LicensorError):
    status_code = 409
    code = "CONFLICT"


class RequestTimeout(LicensorError):
    status_code = 408
    code = "REQUEST_TIMEOUT"


class PayloadTooLarge(LicensorError):
    status_code = 413
    code = "PAYLOAD_TOO_LARGE"


class Unprocessable(LicensorError):
    status_code = 422
    code = "VALIDATION_ERROR"


class RateLimited(LicensorError):
    status_code = 429
    code = "RATE_LIMITED"

    def __init__(self, message: str, *, limit: int, retry_after: int) -> None:
        super().__init__(message)
        self.limit = limit
        self.retry_after = max(1, retry_after)

    def headers(self) -> dict[str, str]:
        after = str(self.retry_after)
        return {
            "Retry-After": after,
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": "0",
            "RateLimit-Reset": after,
        }


class HeadersTooLarge(LicensorError):
    status_code = 431
    code = "HEADERS_TOO_LARGE"


class ServiceUnavailable(LicensorError):
    status_code = 503
    code = "SERVICE_UNAVAILABLE"


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for the given error statuses, all in the one body shape."""
    described = {
        400: "Bad request",
        401: "Missing or invalid API key",
        403: "Not permitted",
        404: "Not found",
        408: "The request was not received in time",
        409: "Conflict",
        413: "Request body over the server's limit",
        422: "Validation error",
        429: "Too many requests (Retry-After says when to try again)",
        431: "Request headers over the server's limit",
        503: "The server is at its concurrency limit",
    }
    return {s: {"model": ErrorBody, "description": described.get(s, "Error")} for s in statuses}
