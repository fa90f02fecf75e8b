"""Grace and expiry (docs/machines.md, the grace table): validate, activation and
heartbeats follow the product's grace and behaviour, and the offline verifier judges a
license file by the very same rule (`verifier/states.py` `state_of`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from licensor import verifier
from licensor.verifier.states import state_of
from tests import net
from tests.helpers import make_customer, make_key, make_product, unique
from tests.servers import Tenant
from tests.test_machines import activate
from tests.verifier_helpers import mint


def in_grace_key(tenant: Tenant, expired_days_ago: float, **policy: Any) -> dict[str, Any]:
    product_id = make_product(tenant, license_policy=policy)
    expires = datetime.now(UTC) - timedelta(days=expired_days_ago)
    return make_key(
        tenant, make_customer(tenant), product_id, unique(), expires_at=expires.isoformat()
    )


def test_grace_valid_with_a_warning(tenant: Tenant) -> None:
    key = in_grace_key(tenant, 1, expiry_grace_days=2)
    with net.client(base_url=tenant.base_url, timeout=30) as public:
        check = public.post("/licenses/validate", json={"license_key": key["key"]})
        assert check.json() == {"valid": True, "state": "in_grace", "code": "LICENSE_KEY_IN_GRACE"}
        made = activate(public, key["key"], "laptop")
        assert made.status_code == 201, made.text
        assert (made.json()["state"], made.json()["code"]) == ("in_grace", "LICENSE_KEY_IN_GRACE")
        body = {"license_key": key["key"], "license_key_instance_id": made.json()["id"]}
        assert public.post("/licenses/heartbeat", json=body).json()["state"] == "in_grace"
        assert public.post("/licenses/validate", json=body).json()["valid"] is True
    with tenant.http() as http:  # the management API keeps Dodo's status: past expires_at
        assert http.get(f"/license_keys/{key['id']}").json()["status"] == "expired"


def test_grace_invalid_and_after_the_grace(tenant: Tenant) -> None:
    strict = in_grace_key(tenant, 1, expiry_grace_days=2, grace_behaviour="invalid")
    over = in_grace_key(tenant, 3, expiry_grace_days=2)
    none = in_grace_key(tenant, 0.001)
    with net.client(base_url=tenant.base_url, timeout=30) as public:
        for key, state in ((strict, "in_grace"), (over, "expired"), (none, "expired")):
            answer = public.post("/licenses/validate", json={"license_key": key["key"]}).json()
            assert answer == {"valid": False, "state": state}, key
            refused = activate(public, key["key"], "laptop")
            assert (refused.status_code, refused.json()["code"]) == (422, "LICENSE_KEY_EXPIRED")


def test_online_and_offline_apply_the_same_rule(tenant: Tenant) -> None:
    """One table: the server's validate and the offline verifier say the same state."""
    signer = Ed25519PrivateKey.generate()
    now = datetime.now(UTC)
    for days_ago, state in ((-30, "valid"), (1, "in_grace"), (3, "expired")):
        key = in_grace_key(tenant, days_ago, expiry_grace_days=2)
        online = net.post(
            tenant.base_url + "/licenses/validate", json={"license_key": key["key"]}
        ).json()
        expires = (now - timedelta(days=days_ago)).isoformat()
        text = mint(signer, starts_at=(now - timedelta(days=60)).isoformat(), expires_at=expires)
        grace = timedelta(days=2)
        keys = {"sig_a": signer.public_key()}
        if state == "expired":
            with pytest.raises(verifier.Expired):
                verifier.verify_license_file(text, keys, now=now, grace=grace)
            offline = verifier.verify_license_file(
                text, keys, now=now, grace=grace, check_times=False
            ).state
        else:
            offline = verifier.verify_license_file(text, keys, now=now, grace=grace).state
        assert (online["state"], offline, state_of(now - timedelta(days=days_ago), grace, now)) == (
            state,
            state,
            state,
        )
