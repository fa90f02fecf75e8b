"""Every call of Dodo's Python SDK (strict response validation) against a live Licensor."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest

from tests.helpers import make_customer, make_key, make_product, unique
from tests.servers import Tenant

WHEN = datetime(2031, 5, 17, 12, 30, tzinfo=UTC)


def test_customers_create_retrieve_list_update(tenant: Tenant) -> None:
    sdk = tenant.sdk()
    ann = sdk.customers.create(
        email="ann@example.test", name="Ann", phone_number="+15550001", metadata={"tier": "gold"}
    )
    assert ann.customer_id.startswith("cus_")
    assert (ann.email, ann.name, ann.phone_number) == ("ann@example.test", "Ann", "+15550001")
    assert ann.business_id == tenant.business_id
    assert ann.metadata == {"tier": "gold"}
    bob = sdk.customers.create(email="bob@example.test", name="Bob")

    got = sdk.customers.retrieve(ann.customer_id)
    assert (got.customer_id, got.email, got.created_at) == (
        ann.customer_id,
        ann.email,
        ann.created_at,
    )

    listed = sdk.customers.list(page_number=0, page_size=10)
    assert {c.customer_id for c in listed.items} == {ann.customer_id, bob.customer_id}
    by_email = sdk.customers.list(email="BOB@example.test")
    assert [c.customer_id for c in by_email.items] == [bob.customer_id]
    assert len(sdk.customers.list(page_number=0, page_size=1).items) == 1
    assert sdk.customers.list(page_number=5, page_size=10).items == []

    updated = sdk.customers.update(ann.customer_id, name="Ann B", phone_number=None)
    assert (updated.name, updated.email, updated.phone_number) == (
        "Ann B",
        "ann@example.test",
        None,
    )
    assert sdk.customers.retrieve(ann.customer_id).name == "Ann B"


def test_import_key_with_every_field(tenant: Tenant) -> None:
    sdk = tenant.sdk()
    product_id = make_product(tenant)
    customer_id = make_customer(tenant)
    text = unique("IMPORT")
    lk = sdk.license_keys.create(
        customer_id=customer_id,
        product_id=product_id,
        key=text,
        activations_limit=3,
        expires_at=WHEN,
    )
    assert lk.id.startswith("lic_")
    assert lk.key == text
    assert (lk.customer_id, lk.product_id, lk.business_id) == (
        customer_id,
        product_id,
        tenant.business_id,
    )
    assert (lk.source, lk.status, lk.instances_count) == ("import", "active", 0)
    assert lk.activations_limit == 3
    assert lk.expires_at == WHEN
    assert lk.brand_id
    assert (lk.payment_id, lk.subscription_id) == (None, None)
    assert sdk.license_keys.retrieve(lk.id) == lk


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        (datetime(2032, 1, 2, 3, 4, 5), datetime(2032, 1, 2, 3, 4, 5, tzinfo=UTC)),  # naive: UTC
        (
            datetime(2032, 1, 2, 3, 4, 5, tzinfo=UTC),
            datetime(2032, 1, 2, 3, 4, 5, tzinfo=UTC),
        ),
        (
            datetime(2032, 1, 2, 5, 4, 5, tzinfo=timezone(timedelta(hours=2))),
            datetime(2032, 1, 2, 3, 4, 5, tzinfo=UTC),
        ),
    ],
    ids=["naive", "utc", "offset"],
)
def test_expires_at_naive_and_aware(tenant: Tenant, sent: datetime, expected: datetime) -> None:
    sdk = tenant.sdk()
    product_id, customer_id = make_product(tenant), make_customer(tenant)
    lk = sdk.license_keys.create(
        customer_id=customer_id, product_id=product_id, key=unique(), expires_at=sent
    )
    assert lk.expires_at == expected
    assert lk.expires_at is not None
    assert lk.expires_at.utcoffset() == timedelta(0)
    assert sdk.license_keys.retrieve(lk.id).expires_at == expected


def test_explicit_nulls_mean_unlimited_and_never(tenant: Tenant) -> None:
    product_id = make_product(
        tenant,
        license_key_activations_limit=2,
        license_key_duration={"count": 1, "interval": "Day"},
    )
    customer_id = make_customer(tenant)
    lk = tenant.sdk().license_keys.create(
        customer_id=customer_id,
        product_id=product_id,
        key=unique(),
        activations_limit=None,
        expires_at=None,
    )
    assert (lk.activations_limit, lk.expires_at) == (None, None)


def test_update_license_key(tenant: Tenant) -> None:
    sdk = tenant.sdk()
    product_id, customer_id = make_product(tenant), make_customer(tenant)
    lk = sdk.license_keys.create(customer_id=customer_id, product_id=product_id, key=unique())
    assert (lk.activations_limit, lk.expires_at) == (None, None)

    changed = sdk.license_keys.update(lk.id, activations_limit=4, expires_at=WHEN)
    assert (changed.activations_limit, changed.expires_at, changed.status) == (4, WHEN, "active")
    disabled = sdk.license_keys.update(lk.id, disabled=True)
    assert (disabled.status, disabled.activations_limit, disabled.expires_at) == (
        "disabled",
        4,
        WHEN,
    )
    enabled = sdk.license_keys.update(lk.id, disabled=False, activations_limit=None)
    assert (enabled.status, enabled.activations_limit, enabled.expires_at) == ("active", None, WHEN)
    cleared = sdk.license_keys.update(lk.id, expires_at=None)
    assert cleared.expires_at is None
    assert sdk.license_keys.retrieve(lk.id).expires_at is None


def test_list_license_keys_every_filter(tenant: Tenant) -> None:
    sdk = tenant.sdk()
    p1, p2 = make_product(tenant, name="P1"), make_product(tenant, name="P2")
    c1, c2 = make_customer(tenant, "c1@example.test"), make_customer(tenant, "c2@example.test")
    a = sdk.license_keys.create(customer_id=c1, product_id=p1, key=unique())
    b = make_key(tenant, c2, p1)  # generated: source manual
    past = datetime.now(UTC) - timedelta(days=1)
    c = sdk.license_keys.create(customer_id=c1, product_id=p2, key=unique(), expires_at=past)
    time.sleep(0.05)
    d = sdk.license_keys.create(customer_id=c2, product_id=p2, key=unique())
    sdk.license_keys.update(d.id, disabled=True)

    def ids(**query: object) -> set[str]:
        return {k.id for k in sdk.license_keys.list(page_size=100, **query).items}  # type: ignore[arg-type]

    assert ids() == {a.id, b["id"], c.id, d.id}
    assert ids(customer_id=c1) == {a.id, c.id}
    assert ids(product_id=p2) == {c.id, d.id}
    assert ids(customer_id=c2, product_id=p1) == {b["id"]}
    assert ids(status="active") == {a.id, b["id"]}
    assert ids(status="expired") == {c.id}
    assert ids(status="disabled") == {d.id}
    assert ids(source="import") == {a.id, c.id, d.id}
    assert ids(source="manual") == {b["id"]}
    assert ids(source="auto") == set()
    assert ids(customer_id="cus_unknown") == set()
    assert ids(created_at_gte=d.created_at) == {d.id}
    assert ids(created_at_lte=c.created_at) == {a.id, b["id"], c.id}
    assert ids(created_at_gte=a.created_at, created_at_lte=a.created_at) == {a.id}
    naive_future = datetime(2100, 1, 1)
    assert ids(created_at_gte=naive_future) == set()
    assert ids(created_at_lte=naive_future) == {a.id, b["id"], c.id, d.id}

    pages = [sdk.license_keys.list(page_number=n, page_size=3).items for n in range(3)]
    assert [len(p) for p in pages] == [3, 1, 0]
    assert {k.id for p in pages for k in p} == {a.id, b["id"], c.id, d.id}
    # newest first
    assert pages[0][0].id == d.id
    assert sdk.license_keys.list(page_number=99, page_size=100).items == []


def test_sdk_auto_pagination_ends(tenant: Tenant) -> None:
    sdk = tenant.sdk()
    product_id, customer_id = make_product(tenant), make_customer(tenant)
    made = {
        sdk.license_keys.create(customer_id=customer_id, product_id=product_id, key=unique()).id
        for _ in range(5)
    }

    # The SDK asks for page (page_number or 1) + 1 next and stops at the first empty page,
    # so from page 0 it reads pages 0, 2, 3: the iteration must end (page 3 is empty).
    def page(n: int) -> list[str]:
        return [k.id for k in sdk.license_keys.list(page_number=n, page_size=2).items]

    assert [len(page(n)) for n in range(4)] == [2, 2, 1, 0]
    assert {i for n in range(3) for i in page(n)} == made
    seen = [k.id for k in sdk.license_keys.list(page_number=0, page_size=2)]
    assert seen == page(0) + page(2)
    from_one = [k.id for k in sdk.license_keys.list(page_number=1, page_size=2)]
    assert from_one == page(1) + page(2)


def test_instances_and_public_routes(tenant: Tenant) -> None:
    sdk = tenant.sdk()
    product_id = make_product(tenant, name="Editor Pro")
    customer_id = make_customer(tenant, "dev@example.test", "Dev")
    text = unique()
    lk = sdk.license_keys.create(
        customer_id=customer_id, product_id=product_id, key=text, activations_limit=3
    )

    raw = sdk.licenses.with_raw_response.activate(license_key=text, name="laptop")
    assert raw.status_code == 201
    first = raw.parse()
    assert first.id.startswith("lki_")
    assert (first.license_key_id, first.business_id, first.name) == (
        lk.id,
        tenant.business_id,
        "laptop",
    )
    assert (first.customer.customer_id, first.customer.email, first.customer.name) == (
        customer_id,
        "dev@example.test",
        "Dev",
    )
    assert (first.product.product_id, first.product.name) == (product_id, "Editor Pro")
    assert abs(first.created_at - datetime.now(UTC)) < timedelta(minutes=1)
    second = sdk.licenses.activate(license_key=text, name="desktop")
    assert sdk.license_keys.retrieve(lk.id).instances_count == 2

    listed = sdk.license_key_instances.list(license_key_id=lk.id)
    assert [i.id for i in listed.items] == [second.id, first.id]
    assert [i.id for i in sdk.license_key_instances.list().items] == [second.id, first.id]
    paged = [
        sdk.license_key_instances.list(license_key_id=lk.id, page_number=n, page_size=1).items
        for n in range(3)
    ]
    assert [[i.id for i in p] for p in paged] == [[second.id], [first.id], []]
    assert sdk.license_key_instances.list(license_key_id="lic_other").items == []

    got = sdk.license_key_instances.retrieve(first.id)
    assert (got.id, got.license_key_id, got.name, got.business_id) == (
        first.id,
        lk.id,
        "laptop",
        tenant.business_id,
    )
    renamed = sdk.license_key_instances.update(first.id, name="work laptop")
    assert renamed.name == "work laptop"
    assert sdk.license_key_instances.retrieve(first.id).name == "work laptop"

    assert sdk.licenses.validate(license_key=text).valid is True
    assert sdk.licenses.validate(license_key=text, license_key_instance_id=first.id).valid is True
    assert (
        sdk.licenses.validate(license_key=text, license_key_instance_id="lki_nope").valid is False
    )
    assert sdk.licenses.validate(license_key=unique("NOPE")).valid is False

    assert sdk.licenses.deactivate(license_key=text, license_key_instance_id=first.id) is None  # type: ignore[func-returns-value]
    assert sdk.licenses.validate(license_key=text, license_key_instance_id=first.id).valid is False
    assert sdk.license_keys.retrieve(lk.id).instances_count == 1
    assert [i.id for i in sdk.license_key_instances.list(license_key_id=lk.id).items] == [second.id]


def test_validate_turns_false_when_disabled_or_expired(tenant: Tenant) -> None:
    sdk = tenant.sdk()
    product_id, customer_id = make_product(tenant), make_customer(tenant)
    text = unique()
    lk = sdk.license_keys.create(customer_id=customer_id, product_id=product_id, key=text)
    assert sdk.licenses.validate(license_key=text).valid is True
    sdk.license_keys.update(lk.id, disabled=True)
    assert sdk.licenses.validate(license_key=text).valid is False
    sdk.license_keys.update(lk.id, disabled=False)
    sdk.license_keys.update(lk.id, expires_at=datetime.now(UTC) - timedelta(seconds=1))
    assert sdk.licenses.validate(license_key=text).valid is False
    sdk.license_keys.update(lk.id, expires_at=None)
    assert sdk.licenses.validate(license_key=text).valid is True


BASE32_GROUP = r"[A-Z2-7]{5}"


@pytest.mark.parametrize(
    ("fmt", "prefix", "pattern"),
    [
        ("base32", "ACME", rf"ACME(-{BASE32_GROUP}){{5}}"),
        ("base32", None, rf"{BASE32_GROUP}(-{BASE32_GROUP}){{4}}"),
        ("uuid", None, r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"),
        ("hex64", None, r"[0-9a-f]{64}"),
    ],
)
def test_generated_key_formats(tenant: Tenant, fmt: str, prefix: str | None, pattern: str) -> None:
    fields: dict[str, object] = {"key_format": fmt}
    if prefix:
        fields["key_prefix"] = prefix
    product_id = make_product(tenant, **fields)
    customer_id = make_customer(tenant)
    keys = [make_key(tenant, customer_id, product_id) for _ in range(2)]
    for lk in keys:
        assert re.fullmatch(pattern, lk["key"]), lk["key"]
        assert lk["source"] == "manual"
    assert keys[0]["key"] != keys[1]["key"]
    # and the SDK reads them back in strict mode
    assert tenant.sdk().license_keys.retrieve(keys[0]["id"]).key == keys[0]["key"]
    assert tenant.sdk().licenses.validate(license_key=keys[1]["key"]).valid is True


@pytest.mark.parametrize(
    ("interval", "count", "expected_days"),
    [("Day", 10, (10, 10)), ("Week", 2, (14, 14)), ("Month", 1, (28, 31)), ("Year", 1, (365, 366))],
)
def test_product_defaults_apply(
    tenant: Tenant, interval: str, count: int, expected_days: tuple[int, int]
) -> None:
    product_id = make_product(
        tenant,
        license_key_activations_limit=7,
        license_key_duration={"count": count, "interval": interval},
    )
    with tenant.http() as http:
        product = http.get(f"/products/{product_id}").json()
    assert product["license_key_activations_limit"] == 7
    assert product["license_key_duration"] == {"count": count, "interval": interval}
    assert product["key_format"] == "base32"
    customer_id = make_customer(tenant)
    for lk in (
        make_key(tenant, customer_id, product_id),
        make_key(tenant, customer_id, product_id, unique()),
    ):
        assert lk["activations_limit"] == 7
        created = datetime.fromisoformat(lk["created_at"])
        expires = datetime.fromisoformat(lk["expires_at"])
        assert expected_days[0] <= (expires - created).days <= expected_days[1]
        assert (expires - created).seconds < 2
    # explicit values win over the product's defaults
    own = make_key(
        tenant, customer_id, product_id, activations_limit=1, expires_at=WHEN.isoformat()
    )
    assert own["activations_limit"] == 1
    assert datetime.fromisoformat(own["expires_at"]) == WHEN


def test_product_without_defaults(tenant: Tenant) -> None:
    product_id = make_product(tenant)
    lk = make_key(tenant, make_customer(tenant), product_id)
    assert (lk["activations_limit"], lk["expires_at"], lk["source"]) == (None, None, "manual")
    assert lk["status"] == "active"
