"""Errors of subscriptions that more than one package raises."""

from __future__ import annotations

from licensor.kit.errors import Forbidden


class SubscriptionCancelled(Forbidden):
    """A cancelled subscription gets no new activation code and no cloud activation or
    seat report: 403 on the management API and on `/cloud/*` alike."""

    code = "SUBSCRIPTION_CANCELLED"
