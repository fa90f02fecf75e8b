"""422 VALIDATION_ERROR for every kind of bad input, in the one error shape, never a 500."""

from __future__ import annotations

from typing import Any

import pytest

from tests import net
from tests.helpers import make_customer, make_product, setup_key
from tests.servers import Server, Tenant
from tests.test_errors import expect_error

LONG = "x" * 301
BAD_BODIES: list[tuple[str, str, Any]] = [
    ("POST", "/customers", b"{not json"),
    ("POST", "/customers", b"\xff\xfe not utf-8"),
    ("POST", "/license_keys", b'{"key": "\xff"}'),
    ("PATCH", "/license_keys/lic_x", b"\x80"),
    ("POST", "/customers", b""),
    ("POST", "/customers", b"[]"),
    ("POST", "/customers", b"null"),
    ("POST", "/customers", {"name": "No Email"}),
    ("POST", "/customers", {"email": "not-an-email", "name": "A"}),
    ("POST", "/customers", {"email": "a@example.test", "name": LONG}),
    ("POST", "/customers", {"email": "a@example.test", "name": "   "}),
    ("POST", "/customers", {"email": "a@example.test", "name": 5}),
    ("POST", "/products", {"name": "P", "license_key_activations_limit": -1}),
    ("POST", "/products", {"name": "P", "key_format": "base64"}),
    ("POST", "/products", {"name": "P", "key_prefix": "lower"}),
    ("POST", "/products", {"name": "P", "license_key_duration": {"count": 0, "interval": "Day"}}),
    ("POST", "/products", {"name": "P", "license_key_duration": {"count": 1, "interval": "Hour"}}),
    ("POST", "/license_keys", {"customer_id": "c", "product_id": "p", "key": "k", "x": b""}),
    ("POST", "/license_keys", {"product_id": "p", "key": "k"}),
    ("POST", "/license_keys", {"customer_id": "c", "key": "k"}),
    ("POST", "/license_keys", {"customer_id": "c", "product_id": "p", "key": ""}),
    ("POST", "/license_keys", {"customer_id": "c", "product_id": "p", "key": "x" * 513}),
    ("POST", "/license_keys", {"customer_id": "c", "product_id": "p", "key": "a\nb"}),
    ("POST", "/license_keys", {"customer_id": "c", "product_id": "p", "key": 12}),
    ("POST", "/license_keys", {"customer_id": "c" * 65, "product_id": "p", "key": "k"}),
    ("POST", "/license_keys", {"customer_id": "c", "product_id": "p", "activations_limit": -1}),
    ("POST", "/license_keys", {"customer_id": "c", "product_id": "p", "activations_limit": "x"}),
    ("POST", "/license_keys", {"customer_id": "c", "product_id": "p", "activations_limit": 1.5}),
    ("POST", "/license_keys", {"customer_id": "c", "product_id": "p", "expires_at": "tomorrow"}),
    ("POST", "/license_keys", {"customer_id": "c", "product_id": "p", "expires_at": "2030-13-01"}),
    ("PATCH", "/license_keys/lic_x", {"activations_limit": -5}),
    ("PATCH", "/license_keys/lic_x", {"disabled": [1]}),
    ("PATCH", "/license_keys/lic_x", {"expires_at": "2030-01-01T25:00:00"}),
    ("PATCH", "/license_key_instances/lki_x", {"name": ""}),
    ("PATCH", "/license_key_instances/lki_x", {}),
    ("GET", "/license_keys?status=revoked", None),
    ("GET", "/license_keys?source=api", None),
    ("GET", "/license_keys?created_at_gte=yesterday", None),
    ("GET", "/license_keys?created_at_lte=2030-02-30T00:00:00", None),
    ("GET", "/license_keys?page_size=0", None),
    ("GET", "/license_keys?page_size=101", None),
    ("GET", "/license_keys?page_number=-1", None),
    ("GET", "/license_keys?page_number=abc", None),
    ("GET", "/customers?page_size=101", None),
    ("GET", "/customers?created_at_gte=nope", None),
    ("GET", "/license_key_instances?page_size=0", None),
    ("GET", "/products?page_size=1000", None),
]


@pytest.mark.parametrize(("method", "path", "body"), BAD_BODIES)
def test_422_validation_error(tenant: Tenant, method: str, path: str, body: Any) -> None:
    with tenant.http() as http:
        if isinstance(body, bytes):
            resp = http.request(
                method, path, content=body, headers={"Content-Type": "application/json"}
            )
        elif isinstance(body, dict) and body.get("x") == b"":
            resp = http.request(method, path, content=b'{"customer_id": "c", "product_id": ')
        else:
            resp = http.request(method, path, json=body)
    out = expect_error(resp, 422, "VALIDATION_ERROR")
    assert "detail" not in out


@pytest.mark.parametrize(
    "body",
    [
        b"{",
        b"\xff\xfe",
        b"[]",
        b'{"license_key": "k"}',
        b'{"license_key": "", "name": "n"}',
        b'{"license_key": 5, "name": "n"}',
        b'{"license_key": "k", "name": "' + b"n" * 301 + b'"}',
    ],
)
def test_422_on_public_routes(server: Server, body: bytes) -> None:
    for route in ("activate", "validate", "deactivate"):
        resp = net.post(
            f"{server.base_url}/licenses/{route}",
            content=body,
            headers={"content-type": "application/json"},
        )
        if route == "validate" and body.startswith(b'{"license_key": "k"'):  # name is ignored
            assert resp.json() == {"valid": False}
            continue
        expect_error(resp, 422, "VALIDATION_ERROR")


NUL_AND_RANGE: list[tuple[str, str, Any]] = [
    ("POST", "/customers", {"email": "a@example.test", "name": "a\u0000b"}),
    ("POST", "/customers", {"email": "a@example.test", "name": "A", "metadata": {"k\u0000": "v"}}),
    ("POST", "/customers", {"email": "a@example.test", "name": "A", "phone_number": "1\u0000"}),
    ("POST", "/customers", '{"email": "a@example.test", "name": "A", "metadata": {"x": 1e999}}'),
    ("POST", "/products", {"name": "P", "price": {"amount": 2**70}}),
    ("POST", "/products", '{"name": "P", "price": {"amount": [1e999]}}'),
    ("POST", "/products", {"name": "P", "description": "\u0000"}),
    (
        "POST",
        "/products",
        {"name": "P", "license_key_duration": {"count": 5000, "interval": "Year"}},
    ),
    ("POST", "/license_keys", {"customer_id": "c", "product_id": "p", "key": "k\u0000"}),
    ("POST", "/license_keys", {"customer_id": "c\u0000", "product_id": "p"}),
    (
        "POST",
        "/license_keys",
        {"customer_id": "c", "product_id": "p", "expires_at": "0001-01-01T00:00:00+01:00"},
    ),
    ("PATCH", "/license_keys/lic_x", {"expires_at": "9999-12-31T23:59:59-01:00"}),
    ("PATCH", "/license_key_instances/lki_x", {"name": "a\u0000"}),
    ("GET", "/license_keys?created_at_gte=9999-12-31T23:59:59-01:00", None),
    ("GET", "/customers?created_at_lte=0001-01-01T00:00:00%2B05:00", None),
]


@pytest.mark.parametrize(("method", "path", "body"), NUL_AND_RANGE)
def test_nul_and_out_of_range_values_are_422(
    tenant: Tenant, method: str, path: str, body: Any
) -> None:
    """Found by schemathesis: these were 500s (PostgreSQL refuses NUL in text; datetimes past
    year 9999 in UTC; JSON integers past 64 bits and Infinity could not be stored or sent)."""
    with tenant.http() as http:
        if isinstance(body, str):
            resp = http.request(
                method, path, content=body, headers={"Content-Type": "application/json"}
            )
        else:
            resp = http.request(method, path, json=body)
        expect_error(resp, 422, "VALIDATION_ERROR")
        assert http.get("/products").json() == {"items": []}
        assert http.get("/customers").json() == {"items": []}


def test_nul_in_query_and_path_is_422(tenant: Tenant) -> None:
    _, _, lk = setup_key(tenant)
    with tenant.http() as http:
        for path in (
            "/license_keys?customer_id=%00",
            "/license_key_instances?license_key_id=a%00",
            "/customers?email=a%00@example.test",
        ):
            expect_error(http.get(path), 422, "VALIDATION_ERROR")
        for path in ("/license_keys/lic%00", "/customers/c%00", "/license_key_instances/x%00"):
            expect_error(http.get(path), 422, "VALIDATION_ERROR")
            expect_error(http.patch(path, json={"name": "x"}), 422, "VALIDATION_ERROR")
    for route, body in [
        ("activate", {"license_key": lk["key"], "name": "pc\u0000"}),
        ("validate", {"license_key": lk["key"], "license_key_instance_id": "i\u0000"}),
        ("deactivate", {"license_key": lk["key"], "license_key_instance_id": "i\u0000"}),
    ]:
        resp = net.post(f"{tenant.base_url}/licenses/{route}", json=body)
        expect_error(resp, 422, "VALIDATION_ERROR")


def test_boundaries_that_are_accepted(tenant: Tenant) -> None:
    product_id = make_product(
        tenant,
        price={"amount": 2**62, "nested": [1.5, {"ok": True}]},
        license_key_duration={"count": 1000, "interval": "Year"},
    )
    customer_id = make_customer(tenant)
    with tenant.http() as http:
        product = http.get(f"/products/{product_id}").json()
        assert product["price"] == {"amount": 2**62, "nested": [1.5, {"ok": True}]}
        body = {
            "customer_id": customer_id,
            "product_id": product_id,
            "expires_at": "9999-12-31T23:59:59+00:00",
            "activations_limit": 2_000_000_000,
        }
        lk = http.post("/license_keys", json=body).json()
        assert (lk["activations_limit"], lk["expires_at"][:19]) == (
            2_000_000_000,
            "9999-12-31T23:59:59",
        )
        generated = http.post(
            "/license_keys", json={"customer_id": customer_id, "product_id": product_id}
        ).json()
        assert int(generated["expires_at"][:4]) - int(generated["created_at"][:4]) == 1000
