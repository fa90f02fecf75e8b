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

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code  # type: ignore[misc]

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message}

    def headers(self) -> dict[str, str]:
        """Extra response headers this error carries (none by default)."""
        return {}


class BadRequest(LicensorError):
    status_code = 400
    code = "BAD_REQUEST"


class Unauthorized(LicensorError):
    status_code = 401
    code = "UNAUTHORIZED"


class Forbidden(LicensorError):
    status_code = 403
    code = "FORBIDDEN"


class NotFound(LicensorError):
    status_code = 404
    code = "NOT_FOUND"


class Conflict(LicensorError):
    status_code = 409
    code = "CONFLICT"


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


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for the given error statuses, all in the one body shape."""
    described = {
        400: "Bad request",
        401: "Missing or invalid API key",
        403: "Not permitted",
        404: "Not found",
        409: "Conflict",
        422: "Validation error",
        429: "Too many requests (Retry-After says when to try again)",
    }
    return {s: {"model": ErrorBody, "description": described.get(s, "Error")} for s in statuses}
