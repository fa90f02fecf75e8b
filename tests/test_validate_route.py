"""POST /licenses/validate through a real server: answers, 422s, and a disable seen at once."""

from __future__ import annotations

import httpx

from tests.servers import Tenant


def _key(tenant: Tenant, http: httpx.Client) -> dict[str, str]:
    product = http.post("/products", json={"name": "P"}).json()
    customer = http.post("/customers", json={"email": "v@example.test", "name": "V"}).json()
    made = http.post(
        "/license_keys",
        json={"customer_id": customer["customer_id"], "product_id": product["product_id"]},
    )
    assert made.status_code == 201, made.text
    out: dict[str, str] = made.json()
    return out


def test_validate_answers(tenant: Tenant) -> None:
    with tenant.http() as http:
        key = _key(tenant, http)
        ok = http.post("/licenses/validate", json={"license_key": key["key"]})
        assert (ok.status_code, ok.content) == (200, b'{"valid":true,"state":"valid"}')
        assert ok.headers["content-type"] == "application/json"
        unknown = http.post("/licenses/validate", json={"license_key": key["key"] + "x"})
        assert (unknown.status_code, unknown.json()) == (200, {"valid": False})
        other = http.post(
            "/licenses/validate",
            json={"license_key": key["key"], "license_key_instance_id": "lki_nope"},
        )
        assert other.json() == {"valid": False, "state": "valid"}

        http.patch(f"/license_keys/{key['id']}", json={"disabled": True}).raise_for_status()
        off = http.post("/licenses/validate", json={"license_key": key["key"]})
        assert off.json() == {"valid": False, "state": "disabled"}


def test_validate_rejects_bad_bodies_as_pydantic_words_them(tenant: Tenant) -> None:
    with tenant.http() as http:
        for body, where in [
            (b'{"license_key":"a\\u0001b"}', "license_key"),
            (b'{"license_key":""}', "license_key"),
            (b'{"license_key":"k","license_key_instance_id":""}', "license_key_instance_id"),
            (b'{"license_key":5}', "license_key"),
            (b"[]", "body"),
            (b"not json", "body"),
        ]:
            got = http.post(
                "/licenses/validate", content=body, headers={"content-type": "application/json"}
            )
            assert got.status_code == 422, (body, got.text)
            assert got.json()["code"] == "VALIDATION_ERROR"
            assert got.json()["message"].startswith(where), (body, got.json())


def test_activate_limit_and_deactivate(tenant: Tenant) -> None:
    """The thin path's writes, repeated so that pooled connections are reused (PostgreSQL)."""
    with tenant.http() as http:
        product = http.post("/products", json={"name": "P"}).json()
        customer = http.post("/customers", json={"email": "a@example.test", "name": "A"}).json()
        made = http.post(
            "/license_keys",
            json={
                "customer_id": customer["customer_id"],
                "product_id": product["product_id"],
                "activations_limit": 1,
            },
        ).json()
        for _ in range(3):
            on = http.post("/licenses/activate", json={"license_key": made["key"], "name": "pc"})
            assert on.status_code == 201, on.text
            assert on.json()["license_key_id"] == made["id"]
            assert on.json()["customer"]["email"] == "a@example.test"
            full = http.post("/licenses/activate", json={"license_key": made["key"], "name": "x"})
            assert (full.status_code, full.json()["code"]) == (422, "LICENSE_KEY_LIMIT_REACHED")
            instance = on.json()["id"]
            check = {"license_key": made["key"], "license_key_instance_id": instance}
            assert http.post("/licenses/validate", json=check).json() == {
                "valid": True,
                "state": "valid",
            }
            off = http.post("/licenses/deactivate", json=check)
            assert off.status_code == 200, off.text
            again = http.post("/licenses/deactivate", json=check)
            assert again.json()["code"] == "LICENSE_KEY_INSTANCE_NOT_FOUND"
            assert http.post("/licenses/validate", json=check).json() == {
                "valid": False,
                "state": "valid",
            }
