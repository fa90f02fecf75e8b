"""The signing keys' errors (docs/api.md lists each code once)."""

from __future__ import annotations

from licensor.kit.errors import Conflict, NotFound


class SigningKeyNotFound(NotFound):
    """No such key id for this business and mode, or no active key yet (a business made
    before bootstrap made keys, asked for its revocation list)."""

    code = "SIGNING_KEY_NOT_FOUND"


class InvalidTransition(Conflict):
    """Retiring a key that is not the active one, or revoking a revoked one."""

    code = "SIGNING_KEY_INVALID_TRANSITION"
