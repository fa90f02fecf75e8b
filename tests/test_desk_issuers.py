"""Who counts as staff: the service, called in-process on the servers' real databases.

A license issued by another service (the cloud issuer here) needs only the fields of
its type; staff (API, CLI) must also give customer, subscription id and notes."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from licensor.auth.dependencies import Principal
from licensor.kit.context import AppContext
from licensor.license_desk import rules
from licensor.license_desk import service as desk
from licensor.license_desk.errors import FieldsMissing
from licensor.license_desk.schemas import LicenseCreate
from tests.desk_helpers import (
    BASE_FIELDS,
    EXPIRES,
    OFFLINE_FIELDS,
    STAFF_FIELDS,
    STARTS,
    offline_setup,
)
from tests.servers import Server, Tenant

REQUIRED = {
    ("legacy", "staff"): STAFF_FIELDS,
    ("legacy", "cloud"): BASE_FIELDS,
    ("offline_cloud", "staff"): STAFF_FIELDS,
    ("offline_cloud", "cloud"): OFFLINE_FIELDS,
}


def _issue(server: Server, tenant: Tenant, body: dict[str, Any], kind: str) -> Any:
    async def run() -> Any:
        ctx = AppContext.from_settings(server.settings)
        who = Principal(business_id=tenant.business_id, mode="test", api_key_id="test")
        try:
            async with ctx.db.write_sessions() as session, session.begin():
                issuer = rules.Issuer(kind, "someone")  # type: ignore[arg-type]
                row = await desk.issue(session, ctx, who, LicenseCreate(**body), issuer)
                return row.id
        finally:
            await ctx.close()

    return asyncio.run(run())


@pytest.mark.parametrize(("license_type", "kind"), sorted(REQUIRED))
def test_required_fields_per_type_and_issuer(
    server: Server, tenant: Tenant, license_type: str, kind: str
) -> None:
    with pytest.raises(FieldsMissing) as caught:
        _issue(server, tenant, {"license_type": license_type}, kind)
    expected = [f for f in REQUIRED[(license_type, kind)] if f != "license_type"]
    assert caught.value.fields == expected
    assert (
        rules.required_fields(license_type, rules.Issuer(kind, "x"))  # type: ignore[arg-type]
        == REQUIRED[(license_type, kind)]
    )


def test_a_non_staff_legacy_license_needs_no_customer_subscription_or_note(
    server: Server, tenant: Tenant
) -> None:
    p, _, _ = offline_setup(tenant.http())
    body = {
        "license_type": "legacy",
        "name": "Lee",
        "company": "Acme",
        "email": "l@a.test",
        "users_count": 3,
        "plan_code": p["code"],
        "starts_at": STARTS,
        "expires_at": EXPIRES,
    }
    license_id = _issue(server, tenant, body, "cloud")
    got = tenant.http().get(f"/licenses/{license_id}").json()
    assert (got["issued_by"], got["customer_id"], got["notes"]) == ("cloud", None, [])
    staff = tenant.http().post("/licenses", json=body)
    assert staff.status_code == 422
    assert staff.json()["fields"] == ["customer_id", "subscription_id", "notes"]
