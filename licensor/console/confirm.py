"""Shared by the subscription, license key and email queue pages: who acts, and the
confirmation step a change asks for.

A change that asks for confirmation is a POST form whose first submission (without
`confirmed=yes`) changes nothing and answers a page restating the change, with a form
that posts the same values again plus `confirmed=yes` ("Yes, …") and a way back. It works
without JavaScript; `console.js` adds nothing to it."""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import Request
from starlette.responses import Response

from licensor.console.session import StaffUser
from licensor.console.web import render
from licensor.kit.tenancy import Principal

CONFIRMED = "yes"


def acting(staff: StaffUser) -> Principal:
    """The services' caller for a console change: the staff member's business, the face's
    mode, and the staff member as the actor (`staff:<id>` where an API key id would be)."""
    return Principal(business_id=staff.business_id, mode=staff.mode, api_key_id=f"staff:{staff.id}")


def confirmation(
    request: Request,
    staff: StaffUser,
    *,
    question: str,
    detail: str,
    action: str,
    button: str,
    back: str,
    fields: Mapping[str, str] | None = None,
) -> Response:
    """The confirmation page for a change: nothing is written until it is confirmed."""
    return render(
        request,
        "confirm.html",
        staff,
        question=question,
        detail=detail,
        action=action,
        button=button,
        back=back,
        fields=dict(fields or {}),
        confirmed=CONFIRMED,
    )
