"""Human passwords at the configured argon2id cost (`kit/passwords.py`): the default is
RFC 9106's second profile; a server hashes at the cost it is configured with (the suite
runs its servers at a low one, tests/conftest.py); a hash keeps verifying after the
cost changes."""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from licensor.config import Settings
from licensor.kit.context import AppContext
from licensor.kit.passwords import Passwords
from licensor.models import OrgMember
from tests import net
from tests.conftest import TEST_PASSWORD_COST
from tests.instance_keys.helpers import PASSWORD, login, new_org
from tests.servers import Server

DEFAULT_COST = "$argon2id$v=19$m=65536,t=3,p=4$"


def test_the_default_cost_is_rfc_9106s_second_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in TEST_PASSWORD_COST:
        monkeypatch.delenv(name)
    passwords = Passwords.of(Settings())
    stored = asyncio.run(passwords.hash(PASSWORD))
    assert stored.startswith(DEFAULT_COST)
    # a cheaper configuration still verifies it (and a wrong password still fails)
    cheaper = Passwords(time_cost=1, memory_kib=64, parallelism=1)
    assert asyncio.run(cheaper.verify(stored, PASSWORD))
    assert not asyncio.run(cheaper.verify(stored, PASSWORD + "!"))
    assert not asyncio.run(cheaper.verify(None, PASSWORD))


def test_a_cost_argon2_cannot_run_is_refused_at_start() -> None:
    with pytest.raises(ValidationError, match="8 KiB per lane"):
        Settings(password_memory_kib=64, password_parallelism=16)
    assert Settings(password_memory_kib=128, password_parallelism=16).password_parallelism == 16


def test_a_server_hashes_at_its_configured_cost(server: Server) -> None:
    tenant = server.tenant()
    org_id = new_org(tenant)
    email = f"owner-{uuid.uuid4().hex[:6]}@example.test"
    with tenant.http() as http:
        r = http.post(
            f"/api/v1/organizations/{org_id}/owner", json={"email": email, "password": PASSWORD}
        )
        assert r.status_code == 201, r.text
    assert login(tenant, email)["token"]

    async def stored(ctx: AppContext) -> str | None:
        async with ctx.db.read_sessions() as session:
            found = await session.scalar(select(OrgMember).where(OrgMember.email == email))
            assert found is not None
            return found.password_hash

    hashed = server.run(stored)
    assert hashed is not None
    cost = {name: os.environ[name] for name in TEST_PASSWORD_COST}  # what the server got
    expected = (
        f"$argon2id$v=19$m={cost['LICENSOR_PASSWORD_MEMORY_KIB']},"
        f"t={cost['LICENSOR_PASSWORD_TIME_COST']},p={cost['LICENSOR_PASSWORD_PARALLELISM']}$"
    )
    assert hashed.startswith(expected)
    wrong = net.post(
        tenant.base_url + "/api/v1/auth/login",
        json={"email": email, "password": "wrong", "businessId": tenant.business_id},
    )
    assert wrong.status_code == 401
