from __future__ import annotations

from licensor.kit.errors import BadRequest, Conflict, Unprocessable

MAX_KEY_LENGTH = 255


class IdempotencyKeyInvalid(BadRequest):
    code = "IDEMPOTENCY_KEY_INVALID"


class IdempotencyKeyReused(Unprocessable):
    code = "IDEMPOTENCY_KEY_REUSED"


class IdempotencyKeyInUse(Conflict):
    code = "IDEMPOTENCY_KEY_IN_USE"
