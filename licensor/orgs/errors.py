"""Errors of organisations that more than one rule raises."""

from __future__ import annotations

from licensor.kit.errors import Conflict


class OwnerByTransfer(Conflict):
    """The owner is made, demoted or removed only by an ownership transfer."""

    code = "OWNER_BY_TRANSFER"
