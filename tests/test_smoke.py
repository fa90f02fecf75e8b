from __future__ import annotations

from tests.servers import Tenant


def test_customer_round_trip(tenant: Tenant) -> None:
    client = tenant.sdk()
    created = client.customers.create(email="ann@example.test", name="Ann")
    fetched = client.customers.retrieve(created.customer_id)
    assert fetched.email == "ann@example.test"
    assert fetched.business_id == tenant.business_id
