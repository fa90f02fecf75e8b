"""Subscriptions list and search (the service the console uses), over the API."""

from __future__ import annotations

import uuid

from tests.desk_helpers import customer, legacy_body, ok, plan, subscription
from tests.servers import Server, Tenant


def test_search_by_email_domain_company_and_ids(tenant: Tenant, server: Server) -> None:
    tag = uuid.uuid4().hex[:8]
    with tenant.http() as http:
        p = plan(http)
        globex = customer(http, email=f"Ops@Globex-{tag}.test", name=f"Globex {tag} Corp")
        initech = customer(http, email=f"it@initech-{tag}.test", name="Bill Lumbergh")
        g1 = subscription(http, globex["customer_id"], p["code"], name=f"GLX-{tag}-1")
        g2 = subscription(http, globex["customer_id"], p["code"])
        i1 = subscription(http, initech["customer_id"], p["code"])
        # the company of a license issued from the subscription counts too
        body = {**legacy_body(p, initech, i1), "company": f"Initech {tag}_% Ltd"}
        ok(http.post("/licenses", json=body), 201)

        def ids(**params: str) -> list[str]:
            got = ok(http.get("/subscriptions", params={**params, "page_size": "100"}))
            return [s["id"] for s in got["items"]]

        newest_globex = [g2["id"], g1["id"]]
        assert ids(email=f"ops@globex-{tag}.test") == newest_globex  # case-insensitive
        assert ids(email=f"@GLOBEX-{tag}.test") == newest_globex
        assert ids(email=f"globex-{tag}.test") == newest_globex
        assert ids(email=f"x@globex-{tag}.test") == []
        assert ids(email=f"lobex-{tag}.test") == []  # a domain is whole, not a suffix
        assert ids(company=f"globex {tag}") == newest_globex
        assert ids(company=f"initech {tag}_%") == [i1["id"]]  # % and _ are literal
        assert ids(company=f"initech {tag}__") == []
        assert ids(q=g1["id"]) == [g1["id"]]
        assert ids(q=i1["external_id"]) == [i1["id"]]
        assert ids(q=f"glx-{tag}") == [g1["id"]]  # subscription name
        assert ids(q=f"it@initech-{tag}.test") == [i1["id"]]
        assert ids(q=f"initech-{tag}.test") == [i1["id"]]
        assert ids(q=f"Globex {tag}") == newest_globex
        assert ids(q=f"Globex {tag}", email=f"initech-{tag}.test") == []  # all must match
        assert ids(q="   ") == []
        assert ids(customer_id=initech["customer_id"], q=f"initech {tag}") == [i1["id"]]
        long = http.get("/subscriptions", params={"q": "x" * 321})
        assert long.status_code == 422
    with server.tenant().http() as other:
        assert ok(other.get("/subscriptions", params={"q": g1["id"]}))["items"] == []
