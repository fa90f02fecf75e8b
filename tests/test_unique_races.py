"""Racing creates of one unique value: one wins, every other answer is the domain's 409.

Each service checks before it inserts, but concurrent requests can all pass the check;
the database's unique constraint then refuses all but one. That refusal must be the same
409 the check gives, never a 500, on both backends.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError

from tests.desk_helpers import EXPIRES, STARTS, customer, plan, subscription
from tests.instance_keys.helpers import PASSWORD, bearer, org_with_people
from tests.servers import Tenant

RACERS = 8


def race(send: Callable[[httpx.Client], httpx.Response], tenant: Tenant) -> list[httpx.Response]:
    """Call `send` from RACERS threads at once, each with its own connection."""
    clients = [tenant.http() for _ in range(RACERS)]
    barrier = threading.Barrier(RACERS)
    answers: list[httpx.Response] = []
    lock = threading.Lock()

    def one(client: httpx.Client) -> None:
        client.get("/health")  # connect before the start line
        barrier.wait()
        response = send(client)
        with lock:
            answers.append(response)

    threads = [threading.Thread(target=one, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    for c in clients:
        c.close()
    assert len(answers) == RACERS
    return answers


def one_wins(answers: list[httpx.Response], created: int, code: str) -> None:
    statuses = Counter(r.status_code for r in answers)
    assert statuses == {created: 1, 409: RACERS - 1}, [(r.status_code, r.text) for r in answers]
    for r in answers:
        if r.status_code == 409:
            body: dict[str, Any] = r.json()
            assert body["code"] == code, body
            assert set(body) == {"code", "message"}


def test_racing_plan_codes(tenant: Tenant) -> None:
    code = f"gold-{uuid.uuid4().hex[:6]}"
    answers = race(lambda c: c.post("/plans", json={"code": code, "name": "Gold"}), tenant)
    one_wins(answers, 201, "PLAN_CODE_TAKEN")
    with tenant.http() as http:
        assert [p["code"] for p in http.get("/plans").json()["items"]].count(code) == 1


def test_racing_subscription_external_ids(tenant: Tenant) -> None:
    with tenant.http() as http:
        p = plan(http)
        c = customer(http)
    external = f"EXT-{uuid.uuid4().hex[:8]}"

    def send(client: httpx.Client) -> httpx.Response:
        body = {
            "customer_id": c["customer_id"],
            "plan_code": p["code"],
            "users_count": 3,
            "starts_at": STARTS,
            "expires_at": EXPIRES,
            "external_id": external,
            "name": f"S-{uuid.uuid4().hex[:6]}",
        }
        return client.post("/subscriptions", json=body)

    one_wins(race(send, tenant), 201, "SUBSCRIPTION_EXTERNAL_ID_TAKEN")
    with tenant.http() as http:
        # a fresh create still sees the winner
        again = subscription(http, c["customer_id"], p["code"], external_id=f"{external}-2")
        assert again["external_id"] == f"{external}-2"


def test_racing_member_invites(tenant: Tenant) -> None:
    org = org_with_people(tenant, roles=())
    email = f"twice-{uuid.uuid4().hex[:6]}@example.test"

    def send(client: httpx.Client) -> httpx.Response:
        return client.post(
            "/api/v1/organization/members",
            json={"email": email, "role": "member", "password": PASSWORD},
            headers=bearer(org.tokens["owner"]),
        )

    one_wins(race(send, tenant), 201, "MEMBER_EXISTS")


def test_racing_first_owners(tenant: Tenant) -> None:
    with tenant.http() as http:
        org_id = customer(http)["customer_id"]
    answers = race(
        lambda c: c.post(
            f"/api/v1/organizations/{org_id}/owner",
            json={"email": f"o-{uuid.uuid4().hex[:8]}@example.test"},
        ),
        tenant,
    )
    statuses = Counter(r.status_code for r in answers)
    assert statuses == {201: 1, 409: RACERS - 1}, [(r.status_code, r.text) for r in answers]
    assert {r.json()["code"] for r in answers if r.status_code == 409} == {"OWNER_EXISTS"}


def test_every_mapped_constraint_exists() -> None:
    """The constraint names mapped to domain codes are those the models (and migrations,
    by the same naming convention) give the database."""
    import licensor.models  # noqa: F401
    from licensor.kit.db import Base
    from licensor.kit.integrity import DOMAIN_CONFLICTS

    names = {
        str(c.name)  # type: ignore[attr-defined]
        for t in Base.metadata.tables.values()
        for c in [*t.constraints, *t.indexes]
        if c.name  # type: ignore[attr-defined]
    }
    assert set(DOMAIN_CONFLICTS) <= names, set(DOMAIN_CONFLICTS) - names


def test_sqlite_violations_map_to_their_constraint(tmp_path: Path) -> None:
    """SQLite names the table and columns, not the constraint: they map back to it."""
    import licensor.models  # noqa: F401
    from licensor.kit.db import Base
    from licensor.kit.integrity import conflict_for

    engine = create_engine(f"sqlite:///{tmp_path / 'u.db'}")
    Base.metadata.create_all(engine)
    rows = {
        "PLAN_CODE_TAKEN": "INSERT INTO plans (id, business_id, mode, code, name, features,"
        " max_instances, created_at, updated_at)"
        " VALUES (:id, 'b', 'test', 'gold', 'Gold', '[]', 1, '', '')",
        "OWNER_EXISTS": "INSERT INTO org_members (id, business_id, mode, customer_id, email,"
        " role, created_at, updated_at) VALUES (:id, 'b', 'test', 'c', :id, 'owner', '', '')",
    }
    for code, sql in rows.items():
        with engine.begin() as conn:
            conn.execute(text(sql), {"id": "one"})
        with pytest.raises(IntegrityError) as caught, engine.begin() as conn:
            conn.execute(text(sql), {"id": "two"})
        found = conflict_for(caught.value)
        assert found is not None
        assert found.code == code
    engine.dispose()


def test_racing_invite_accepts(tenant: Tenant) -> None:
    """An invite sets a password once: of racing accepts, one wins, the rest are 401."""
    with tenant.http() as http:
        org_id = customer(http)["customer_id"]
        email = f"inv-{uuid.uuid4().hex[:6]}@example.test"
        invite = http.post(f"/api/v1/organizations/{org_id}/owner", json={"email": email})
        token = invite.json()["inviteToken"]
    answers = race(
        lambda c: c.post(
            "/api/v1/auth/accept-invite",
            json={"inviteToken": token, "password": f"password {uuid.uuid4().hex}"},
        ),
        tenant,
    )
    statuses = Counter(r.status_code for r in answers)
    assert statuses == {200: 1, 401: RACERS - 1}, [(r.status_code, r.text) for r in answers]
    assert {r.json()["code"] for r in answers if r.status_code == 401} == {"INVALID_INVITE"}
    (won,) = [r for r in answers if r.status_code == 200]
    password = json.loads(won.request.content)["password"]
    with tenant.http() as http:
        body = {"email": email, "password": password, "organizationId": org_id}
        assert http.post("/api/v1/auth/login", json=body).status_code == 200
