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
        assert (ok.status_code, ok.content) == (200, b'{"valid":true}')
        assert ok.headers["content-type"] == "application/json"
        unknown = http.post("/licenses/validate", json={"license_key": key["key"] + "x"})
        assert (unknown.status_code, unknown.json()) == (200, {"valid": False})
        other = http.post(
            "/licenses/validate",
            json={"license_key": key["key"], "license_key_instance_id": "lki_nope"},
        )
        assert other.json() == {"valid": False}

        http.patch(f"/license_keys/{key['id']}", json={"disabled": True}).raise_for_status()
        off = http.post("/licenses/validate", json={"license_key": key["key"]})
        assert off.json() == {"valid": False}


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
