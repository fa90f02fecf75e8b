"""Rate limits on the routes anyone may call, and sign-in lockout, on real servers.

Each test talks from its own loopback addresses (127.0.0.x, bound with httpx's
`local_address`), so the tests sharing a server do not share counters.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import net
from tests.conftest import DEFAULT_PASSWORD_COST
from tests.helpers import setup_key, unique
from tests.instance_keys.helpers import PASSWORD, new_org
from tests.servers import Server, Tenant, own_server

FAILURE_COST = 10
LOW_LIMITS = {
    "LICENSOR_RATE_LIMIT_FAILURE_COST": str(FAILURE_COST),
    "LICENSOR_RATE_LIMIT_LICENSE_ADDRESS": "50/minute",  # 5 failures, or 50 successes
    "LICENSOR_RATE_LIMIT_LICENSE_KEY": "1000/minute",
    "LICENSOR_RATE_LIMIT_CHECKIN_ADDRESS": "50/minute",
    "LICENSOR_RATE_LIMIT_CLOUD_ADDRESS": "50/minute",
    "LICENSOR_RATE_LIMIT_LOGIN_ADDRESS": "200/15 minutes",  # 20 failures
    "LICENSOR_RATE_LIMIT_LOGIN_ACCOUNT": "50/15 minutes",  # 5 failures
    "LICENSOR_RATE_LIMIT_JWKS_ADDRESS": "50/minute",
    "LICENSOR_TRUSTED_PROXIES": "127.0.0.9/32",
}


def start(backend: str, tmp: Path, stack: ExitStack, env: dict[str, str], count: int = 1) -> Server:
    return stack.enter_context(own_server(backend, tmp, env=env, count=count))


@pytest.fixture(scope="module")
def limited(
    backend: str, tmp_path_factory: pytest.TempPathFactory, _postgres_checked: bool
) -> Iterator[Server]:
    """A server of our own with low limits (and 127.0.0.9 as a trusted proxy), hashing
    passwords at the production cost (what a locked-out attempt must not spend)."""
    if backend == "postgres" and not _postgres_checked:
        pytest.skip("PostgreSQL not reachable")
    with ExitStack() as stack:
        env = {**LOW_LIMITS, **DEFAULT_PASSWORD_COST}
        yield start(backend, tmp_path_factory.mktemp(f"rl-{backend}"), stack, env)


@pytest.fixture
def ready(backend: str, _postgres_checked: bool) -> str:
    """The backend, for a test that starts its own server (skipped without PostgreSQL)."""
    if backend == "postgres" and not _postgres_checked:
        pytest.skip("PostgreSQL not reachable")
    return backend


def client(base_url: str, address: str) -> httpx.Client:
    """An HTTP client whose requests come from `address` (a loopback address)."""
    transport = httpx.HTTPTransport(local_address=address)
    return net.client(base_url=base_url, transport=transport, timeout=30)


def assert_limited(resp: httpx.Response) -> None:
    assert resp.status_code == 429, resp.text
    assert resp.json()["code"] == "RATE_LIMITED"
    assert set(resp.json()) == {"code", "message"}
    assert int(resp.headers["retry-after"]) >= 1
    assert int(resp.headers["ratelimit-limit"]) > 0
    assert resp.headers["ratelimit-remaining"] == "0"
    assert int(resp.headers["ratelimit-reset"]) >= 1


def validate(http: httpx.Client, key: str, **headers: str) -> httpx.Response:
    return http.post("/licenses/validate", json={"license_key": key}, headers=headers)


def test_invalid_key_burst_is_limited_while_another_address_is_served(limited: Server) -> None:
    tenant = limited.tenant()
    _, _, key = setup_key(tenant)
    attacker, ok = client(tenant.base_url, "127.0.0.1"), client(tenant.base_url, "127.0.0.2")
    with attacker, ok:
        answers = []
        for i in range(30):
            answers.append(validate(attacker, f"LEGACY-{i:04d}"))
            good = validate(ok, key["key"])
            assert good.status_code == 200, good.text
            assert good.json() == {"valid": True, "state": "valid"}
    statuses = [r.status_code for r in answers]
    # Each failure costs 10 of the address's 50: the sixth guess is refused, and all after.
    assert statuses[:5] == [200] * 5, statuses
    assert set(statuses[5:]) == {429}, statuses
    assert_limited(answers[-1])


def test_signed_refusals_count_as_failures(limited: Server) -> None:
    """A validate asked with a nonce answers `{"valid":false,"signed":…}` for a disabled
    key: a failure like the unsigned `{"valid":false}`, on both counters."""
    tenant = limited.tenant()
    _, _, key = setup_key(tenant)
    with tenant.http() as http:
        assert http.patch(f"/license_keys/{key['id']}", json={"disabled": True}).status_code == 200
    body = {"license_key": key["key"], "nonce": "0123456789abcdef"}
    with client(tenant.base_url, "127.0.0.16") as attacker:
        answers = [attacker.post("/licenses/validate", json=body) for _ in range(8)]
    assert answers[0].json()["signed"]["answer"]["state"] == "disabled"
    assert [r.status_code for r in answers] == [200] * 5 + [429] * 3
    assert_limited(answers[-1])


def test_activate_enumeration_is_limited_before_any_lookup(limited: Server) -> None:
    tenant = limited.tenant()
    _, _, key = setup_key(tenant)
    with client(tenant.base_url, "127.0.0.3") as attacker:
        statuses = []
        for i in range(12):
            body = {"license_key": f"LEGACY-{i:04d}", "name": "probe"}
            statuses.append(attacker.post("/licenses/activate", json=body).status_code)
        assert statuses[:5] == [404] * 5, statuses
        assert set(statuses[5:]) == {429}, statuses
        # The real key is refused too from that address: no customer details leak.
        hit = attacker.post("/licenses/activate", json={"license_key": key["key"], "name": "x"})
        assert_limited(hit)


def test_a_forged_forwarded_for_does_not_escape_the_limit(limited: Server) -> None:
    tenant = limited.tenant()
    with client(tenant.base_url, "127.0.0.4") as attacker:
        statuses = [
            validate(attacker, unique(), **{"X-Forwarded-For": f"203.0.113.{i}"}).status_code
            for i in range(10)
        ]
    assert statuses[:5] == [200] * 5
    assert set(statuses[5:]) == {429}, statuses


def test_a_trusted_proxy_s_clients_are_counted_apart(limited: Server) -> None:
    tenant = limited.tenant()
    with client(tenant.base_url, "127.0.0.9") as proxy:
        # The client forges a first hop; the proxy appends the address it saw.
        forged = {"X-Forwarded-For": "198.51.100.1, 198.51.100.7"}
        statuses = [validate(proxy, unique(), **forged).status_code for _ in range(8)]
        assert set(statuses[5:]) == {429}, statuses
        other = validate(proxy, unique(), **{"X-Forwarded-For": "198.51.100.8"})
        assert other.status_code == 200, other.text


def test_instance_checkin_guessing_is_limited(limited: Server) -> None:
    tenant = limited.tenant()
    with client(tenant.base_url, "127.0.0.5") as attacker:
        statuses = [
            attacker.post(
                "/api/v1/licensing/validate",
                json={},
                headers={"Authorization": f"Bearer {unique('lk')}"},
            ).status_code
            for _ in range(8)
        ]
    assert statuses[:5] == [401] * 5, statuses
    assert set(statuses[5:]) == {429}, statuses


def test_cloud_activation_code_guessing_is_limited(limited: Server) -> None:
    tenant = limited.tenant()
    with client(tenant.base_url, "127.0.0.6") as attacker:
        answers = [
            attacker.post(
                "/cloud/activate", json={"activation_code": unique("AC"), "instance_id": "i-1"}
            )
            for _ in range(8)
        ]
    statuses = [r.status_code for r in answers]
    assert statuses[:5] == [404] * 5, statuses
    assert set(statuses[5:]) == {429}, statuses
    assert_limited(answers[-1])


def test_public_key_fetches_are_limited(limited: Server) -> None:
    tenant = limited.tenant()
    with client(tenant.base_url, "127.0.0.14") as stranger:
        statuses = [
            stranger.get(f"/.well-known/jwks/{unique('biz')}/test.json").status_code
            for _ in range(7)
        ]
        assert statuses == [404] * 5 + [429] * 2
    with client(tenant.base_url, "127.0.0.15") as verifier:
        known = verifier.get(f"/.well-known/jwks/{tenant.business_id}/test.json")
        assert known.status_code == 200, known.text


def owner(tenant: Tenant) -> str:
    email = f"owner-{uuid.uuid4().hex[:8]}@example.test"
    with tenant.http() as http:
        r = http.post(
            f"/api/v1/organizations/{new_org(tenant)}/owner",
            json={"email": email, "password": PASSWORD},
        )
    assert r.status_code == 201, r.text
    return email


def login(http: httpx.Client, tenant: Tenant, email: str, password: str) -> httpx.Response:
    body = {"email": email, "password": password, "businessId": tenant.business_id}
    return http.post("/api/v1/auth/login", json=body)


def test_login_locks_out_the_account_from_every_address(limited: Server) -> None:
    tenant = limited.tenant()
    email, bystander = owner(tenant), owner(tenant)
    with client(tenant.base_url, "127.0.0.7") as a, client(tenant.base_url, "127.0.0.8") as b:
        statuses = [
            login(a if i % 2 else b, tenant, email, "wrong password").status_code for i in range(5)
        ]
        assert statuses == [401] * 5
        # Locked: even the right password, from yet another address, is refused.
        with client(tenant.base_url, "127.0.0.10") as c:
            assert_limited(login(c, tenant, email, PASSWORD))
        # Another account, from the attacker's addresses, still signs in.
        assert login(a, tenant, bystander, PASSWORD).status_code == 200


def test_login_locks_out_an_address_guessing_many_accounts(limited: Server) -> None:
    tenant = limited.tenant()
    email = owner(tenant)
    with client(tenant.base_url, "127.0.0.11") as attacker:
        statuses = [
            login(attacker, tenant, f"nobody-{i}@example.test", "guess").status_code
            for i in range(22)
        ]
        assert statuses[:20] == [401] * 20, statuses
        assert set(statuses[20:]) == {429}, statuses
        assert_limited(login(attacker, tenant, email, PASSWORD))
    with client(tenant.base_url, "127.0.0.12") as someone_else:
        assert login(someone_else, tenant, email, PASSWORD).status_code == 200


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_a_locked_out_account_costs_no_password_hashing(limited: Server) -> None:
    """The lock is checked before the member lookup and argon2: a locked-out attacker's
    attempts cost the server a small fraction of a password check each (CPU time of the
    server process, not wall-clock time)."""
    tenant = limited.tenant()
    email = owner(tenant)
    pid = limited.processes[0].pid
    with client(tenant.base_url, "127.0.0.13") as attacker:
        before = cpu_seconds(pid)
        for _ in range(5):
            assert login(attacker, tenant, email, "wrong password").status_code == 401
        per_check = (cpu_seconds(pid) - before) / 5
        before = cpu_seconds(pid)
        for _ in range(10):
            assert_limited(login(attacker, tenant, email, "wrong password"))
        per_locked = (cpu_seconds(pid) - before) / 10
    assert per_check > 0.01, per_check  # argon2id with the library's default cost
    assert per_locked < per_check / 4, (per_locked, per_check)


def test_start_up_and_hourly_validation_never_meets_the_defaults(
    ready: str, tmp_path: Path
) -> None:
    """Defaults: a busy office behind one address validating and activating is served; an
    enumeration from one address is refused within its first hundred guesses."""
    with ExitStack() as stack:
        srv = start(ready, tmp_path, stack, {})
        tenant = srv.tenant()
        _, _, key = setup_key(tenant)
        with client(tenant.base_url, "127.0.0.1") as office:
            for i in range(100):  # 100 machines starting up behind one NAT
                assert validate(office, key["key"]).json() == {"valid": True, "state": "valid"}, i
            for _ in range(5):  # a few mistyped keys among them
                assert validate(office, unique()).json() == {"valid": False}
        with client(tenant.base_url, "127.0.0.2") as enumerator:
            statuses = [validate(enumerator, f"LEGACY-{i:04d}").status_code for i in range(100)]
        assert 429 in statuses
        assert statuses.index(429) <= 61, statuses


def test_limits_off(ready: str, tmp_path: Path) -> None:
    with ExitStack() as stack:
        env = {**LOW_LIMITS, "LICENSOR_RATE_LIMITS": "false"}
        srv = start(ready, tmp_path, stack, env)
        tenant = srv.tenant()
        with client(tenant.base_url, "127.0.0.1") as http:
            statuses = {validate(http, unique()).status_code for _ in range(20)}
        assert statuses == {200}


def _redis_reset(prefix: str) -> None:
    import asyncio

    from limits.aio.storage import RedisStorage

    from tests.servers import REDIS_URL

    async def reset() -> Any:
        return await RedisStorage("async+" + REDIS_URL, key_prefix=prefix).reset()

    asyncio.run(reset())


def test_two_processes_on_one_redis_share_the_limit(
    ready: str, tmp_path: Path, redis_checked: bool
) -> None:
    if not redis_checked:
        pytest.skip("Redis not reachable")
    from tests.servers import REDIS_URL

    prefix = f"licensor-test-{uuid.uuid4().hex[:12]}"
    env = {**LOW_LIMITS, "LICENSOR_REDIS_URL": REDIS_URL, "LICENSOR_REDIS_PREFIX": prefix}
    with ExitStack() as stack:
        stack.callback(_redis_reset, prefix)
        srv = start(ready, tmp_path, stack, env, count=2)
        tenant = srv.tenant()
        suffix = tenant.base_url.removeprefix(srv.base_url)
        first, second = (client(url + suffix, "127.0.0.1") for url in srv.urls)
        with first, second:
            answers = [validate((first, second)[i % 2], unique()) for i in range(20)]
        statuses = [r.status_code for r in answers]
        # 5 failures fit the address's 50 in all; each process alone would let 5 through.
        served = statuses.count(200)
        assert 5 <= served <= 6, statuses
        assert 429 in statuses[0::2], statuses  # both processes refuse
        assert 429 in statuses[1::2], statuses
        assert_limited(answers[-1])


def test_the_fastapi_routes_are_limited_too(ready: str, tmp_path: Path) -> None:
    """With LICENSOR_FAST_PATH=false, FastAPI answers the public routes: same limits."""
    with ExitStack() as stack:
        srv = start(ready, tmp_path, stack, {**LOW_LIMITS, "LICENSOR_FAST_PATH": "false"})
        tenant = srv.tenant()
        with client(tenant.base_url, "127.0.0.1") as attacker:
            answers = [validate(attacker, unique()) for _ in range(7)]
            checkins = [
                attacker.post(
                    "/api/v1/licensing/validate", headers={"Authorization": f"Bearer {unique()}"}
                ).status_code
                for _ in range(7)
            ]
            invites = [
                attacker.post(
                    "/api/v1/auth/accept-invite",
                    json={"inviteToken": unique("lkv"), "password": PASSWORD},
                ).status_code
                for _ in range(22)
            ]
        assert [r.status_code for r in answers] == [200] * 5 + [429] * 2
        assert_limited(answers[-1])
        assert checkins == [401] * 5 + [429] * 2
        assert invites == [401] * 20 + [429] * 2
