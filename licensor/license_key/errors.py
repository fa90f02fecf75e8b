"""Errors of the license-key aggregate that more than one module raises."""

from __future__ import annotations

from licensor.kit.errors import NotFound


class LicenseKeyNotFound(NotFound):
    """A Dodo-style license key (`lic_…`, or a key value on the public checks) that does not
    exist, or belongs to another business or mode. An instance key is INSTANCE_KEY_NOT_FOUND."""

    code = "LICENSE_KEY_NOT_FOUND"
