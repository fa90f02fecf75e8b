"""Errors of the license-key aggregate that more than one module raises."""

from __future__ import annotations

from licensor.kit.errors import Conflict, NotFound, Unprocessable


class LicenseKeyNotFound(NotFound):
    """A Dodo-style license key (`lic_…`, or a key value on the public checks) that does not
    exist, or belongs to another business or mode. An instance key is INSTANCE_KEY_NOT_FOUND."""

    code = "LICENSE_KEY_NOT_FOUND"


class ActivationRequestUsed(Conflict):
    """An air-gapped machine's activation request that was redeemed before: each request
    is taken once (docs/machines.md, "Air-gapped activation")."""

    code = "ACTIVATION_REQUEST_USED"

    def __init__(
        self, message: str = "this activation request was used already: make a new one"
    ) -> None:
        super().__init__(message)


class ActivationRequestInvalid(Unprocessable):
    """Not an activation request (the armour, the base64, a field)."""

    code = "ACTIVATION_REQUEST_INVALID"


class ActivationRequestExpired(Unprocessable):
    """An activation request past its `expires_at` or older than the server's window."""

    code = "ACTIVATION_REQUEST_EXPIRED"


class ActivationRequestNotYetValid(Unprocessable):
    """An activation request dated ahead of the server's clock by more than the skew."""

    code = "ACTIVATION_REQUEST_NOT_YET_VALID"
