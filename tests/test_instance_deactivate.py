"""Staff deactivate a license key instance (`DELETE /license_key_instances/{id}`, the
service the console uses): the instance goes and its seat is free again."""

from __future__ import annotations

from tests import net
from tests.servers import Server, Tenant


def test_deactivate_frees_the_seat(tenant: Tenant, server: Server) -> None:
    with tenant.http() as http:
        cus = http.post("/customers", json={"email": "d@buyer.test", "name": "D"}).json()
        prod = http.post("/products", json={"name": "P", "license_key_activations_limit": 2})
        key = http.post(
            "/license_keys",
            json={"customer_id": cus["customer_id"], "product_id": prod.json()["product_id"]},
        ).json()
        public = net.client(base_url=tenant.base_url, timeout=30)
        made = [
            public.post("/licenses/activate", json={"license_key": key["key"], "name": n}).json()
            for n in ("a", "b")
        ]
        full = public.post("/licenses/activate", json={"license_key": key["key"], "name": "c"})
        assert full.json()["code"] == "LICENSE_KEY_LIMIT_REACHED"

        gone = http.delete(f"/license_key_instances/{made[0]['id']}")
        assert gone.status_code == 204, gone.text
        assert http.get(f"/license_keys/{key['id']}").json()["instances_count"] == 1
        check = {"license_key": key["key"], "license_key_instance_id": made[0]["id"]}
        assert public.post("/licenses/validate", json=check).json() == {
            "valid": False,
            "state": "valid",
        }
        again = http.delete(f"/license_key_instances/{made[0]['id']}")
        assert (again.status_code, again.json()["code"]) == (
            404,
            "LICENSE_KEY_INSTANCE_NOT_FOUND",
        )
        room = public.post("/licenses/activate", json={"license_key": key["key"], "name": "c"})
        assert room.status_code == 201, room.text
    with server.tenant().http() as other:
        stranger = other.delete(f"/license_key_instances/{made[1]['id']}")
        assert stranger.status_code == 404
    with tenant.http() as http:
        assert http.get(f"/license_keys/{key['id']}").json()["instances_count"] == 2
