"""Air-gapped activation (docs/machines.md): the machine's request, made by the verifier's
own command, is uploaded by support and answered with a license file bound to that
machine; the verifier refuses the file anywhere else; a request is taken once and only
while fresh; the key's rules are activation's."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from licensor import verifier as v
from licensor.kit.context import AppContext
from licensor.kit.deps import reading
from licensor.models import ActivationRequest
from licensor.verifier.request import make_activation_request, parse_activation_request
from tests import net
from tests.cli_helpers import cli
from tests.helpers import setup_key
from tests.servers import Server, Tenant

ROOT = Path(__file__).resolve().parents[1]


def jwks(tenant: Tenant) -> Any:
    return net.get(f"{tenant.base_url}/.well-known/jwks/{tenant.business_id}/test.json").json()


def request_by_command(tmp_path: Path, *args: str, copied: bool = False) -> str:
    """The request as the machine makes it: the verifier's command, in a subprocess (from
    the copied folder alone with `copied`: `python -m verifier.request`)."""
    out = tmp_path / f"request-{len(list(tmp_path.iterdir()))}.txt"
    env = {"PATH": os.environ.get("PATH", "")}
    if copied:
        alone = tmp_path / "alone"
        if not alone.exists():
            shutil.copytree(Path(v.__file__).parent, alone / "verifier")
        command = [sys.executable, "-m", "verifier.request", *args, "-o", str(out)]
        env["PYTHONPATH"] = str(alone)
        cwd = alone
    else:
        command = [sys.executable, "-m", "licensor.verifier.request", *args, "-o", str(out)]
        cwd = ROOT
    done = subprocess.run(
        command, env=env, cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    return out.read_text()


def upload(tenant: Tenant, text: str) -> httpx.Response:
    with tenant.http() as http:
        return http.post("/license_keys/offline_activations", json={"request": text})


def verify(tenant: Tenant, file: str, **pins: Any) -> v.VerifiedPayload:
    return v.verify_license_file(
        file, jwks(tenant), business_id=tenant.business_id, mode="test", **pins
    )


def seats_of(tenant: Tenant, key_id: str) -> int:
    with tenant.http() as http:
        count: int = http.get(f"/license_keys/{key_id}").json()["instances_count"]
    return count


@pytest.mark.parametrize("copied", [False, True], ids=["package", "copied-folder"])
def test_a_request_becomes_a_file_bound_to_its_machine(
    tenant: Tenant, tmp_path: Path, copied: bool
) -> None:
    product, _, key = setup_key(tenant, activations_limit=2)
    text = request_by_command(
        tmp_path,
        "--license-key",
        key["key"],
        "--product-id",
        product,
        "--fingerprint",
        "MACHINE-A1",
        "--instance-id",
        "inst-42",
        "--name",
        "lab-pc",
        copied=copied,
    )
    sent = parse_activation_request(text)
    assert (sent.fingerprint, sent.instance_id, sent.product_id) == (
        "MACHINE-A1",
        "inst-42",
        product,
    )
    answer = upload(tenant, text)
    assert answer.status_code == 201, answer.text
    out = answer.json()
    assert out["license_key_id"] == key["id"]
    assert out["activation_request_id"].startswith("acr_")
    assert key["key"] not in out["license_file"]
    payload = verify(
        tenant,
        out["license_file"],
        fingerprint="MACHINE-A1",
        instance_id="inst-42",
        license_types={"machine"},
    )
    assert (payload.type, payload.id, payload.product_id) == ("machine", key["id"], product)
    assert payload.license_key_instance_id == out["license_key_instance_id"]
    assert (payload.fingerprint, payload.instance_id) == ("MACHINE-A1", "inst-42")
    assert payload.kid == jwks(tenant)["keys"][0]["kid"]
    assert payload.state == "valid"
    assert payload.expires_at is None
    # another machine: refused
    with pytest.raises(v.WrongInstance):
        verify(tenant, out["license_file"], fingerprint="MACHINE-B2")
    with pytest.raises(v.WrongInstance):
        verify(tenant, out["license_file"], instance_id="inst-43")
    # the seat is the key's, as activation's: listed, counted, named
    assert seats_of(tenant, key["id"]) == 1
    with tenant.http() as http:
        held = http.get(f"/license_key_instances/{out['license_key_instance_id']}").json()
        events = http.get(
            "/audit_events", params={"target_id": out["activation_request_id"]}
        ).json()
    assert (held["name"], held["fingerprint"]) == ("lab-pc", "MACHINE-A1")
    [redeemed] = events["items"]
    assert redeemed["action"] == "activation_request.redeemed"
    assert redeemed["actor"].startswith("api_key:")
    assert redeemed["changes"]["license_key_instance_id"]["new"] == held["id"]


def test_a_request_is_taken_once(tenant: Tenant) -> None:
    product, _, key = setup_key(tenant, activations_limit=5)
    text = make_activation_request(key["key"], product, instance_id="inst-1")
    first = upload(tenant, text)
    assert first.status_code == 201, first.text
    again = upload(tenant, text)
    assert (again.status_code, again.json()["code"]) == (409, "ACTIVATION_REQUEST_USED")
    assert seats_of(tenant, key["id"]) == 1  # the second upload took no seat
    # the same machine's new request is a new activation (no fingerprint: a new seat)
    fresh = upload(tenant, make_activation_request(key["key"], product, instance_id="inst-1"))
    assert fresh.status_code == 201, fresh.text


def test_stale_and_malformed_requests_are_refused(tenant: Tenant) -> None:
    product, _, key = setup_key(tenant)
    now = datetime.now(UTC)
    cases = {
        "ACTIVATION_REQUEST_EXPIRED": make_activation_request(
            key["key"], product, fingerprint="m-1", now=now - timedelta(days=8)
        ),
        "ACTIVATION_REQUEST_NOT_YET_VALID": make_activation_request(
            key["key"], product, fingerprint="m-1", now=now + timedelta(hours=2)
        ),
        "ACTIVATION_REQUEST_INVALID": "-----BEGIN LICENSOR ACTIVATION REQUEST-----\nnope\n",
    }
    # a request that says it expires sooner than the window is refused from then on
    short = make_activation_request(
        key["key"],
        product,
        fingerprint="m-1",
        now=now - timedelta(hours=2),
        valid_for=timedelta(hours=1),
    )
    for code, text in [*cases.items(), ("ACTIVATION_REQUEST_EXPIRED", short)]:
        r = upload(tenant, text)
        assert (r.status_code, r.json()["code"]) == (422, code), r.text
    assert seats_of(tenant, key["id"]) == 0


def test_the_key_rules_are_activations(server: Server, tenant: Tenant) -> None:
    product, _, key = setup_key(tenant, activations_limit=1)
    first = upload(tenant, make_activation_request(key["key"], product, fingerprint="m-1"))
    assert first.status_code == 201, first.text
    # the same machine again holds its one seat: same instance, the file again
    same = upload(tenant, make_activation_request(key["key"], product, fingerprint="m-1"))
    assert same.status_code == 201, same.text
    assert same.json()["license_key_instance_id"] == first.json()["license_key_instance_id"]
    full = upload(tenant, make_activation_request(key["key"], product, fingerprint="m-2"))
    assert (full.status_code, full.json()["code"]) == (422, "LICENSE_KEY_LIMIT_REACHED")
    # a refused activation does not use the request up
    assert seats_of(tenant, key["id"]) == 1
    other = server.tenant()
    wrong_business = upload(other, make_activation_request(key["key"], product, fingerprint="m-3"))
    assert (wrong_business.status_code, wrong_business.json()["code"]) == (
        404,
        "LICENSE_KEY_NOT_FOUND",
    )
    wrong_product = upload(
        tenant, make_activation_request(key["key"], "pdt_other", fingerprint="m")
    )
    assert wrong_product.json()["code"] == "LICENSE_KEY_NOT_FOUND"
    with tenant.http() as http:
        assert http.patch(f"/license_keys/{key['id']}", json={"disabled": True}).status_code == 200
    disabled = upload(tenant, make_activation_request(key["key"], product, fingerprint="m-1"))
    assert (disabled.status_code, disabled.json()["code"]) == (422, "LICENSE_KEY_DISABLED")


def test_a_refused_request_stays_usable(tenant: Tenant) -> None:
    """Over the limit, nothing is written: once a seat is free, the same request works."""
    product, _, key = setup_key(tenant, activations_limit=1)
    taken = upload(tenant, make_activation_request(key["key"], product, fingerprint="m-1"))
    assert taken.status_code == 201, taken.text
    waiting = make_activation_request(key["key"], product, fingerprint="m-2")
    assert upload(tenant, waiting).status_code == 422
    with tenant.http() as http:
        freed = http.delete(f"/license_key_instances/{taken.json()['license_key_instance_id']}")
    assert freed.status_code == 204
    assert upload(tenant, waiting).status_code == 201


def test_the_request_format_is_strict_about_its_fields() -> None:
    text = make_activation_request("KEY-1", "pdt_1", fingerprint="m-1")
    body = json.loads(base64.b64decode("".join(text.splitlines()[1:-1])))
    assert (body["v"], body["type"]) == (1, "activation_request")
    assert len(body["request_id"]) >= 32
    assert parse_activation_request(text.replace("\n", "\r\n")).request_id == body["request_id"]
    with pytest.raises(ValueError, match="names the machine"):
        make_activation_request("KEY-1", "pdt_1")
    with pytest.raises(v.VerificationError):
        make_activation_request("KEY-1", "pdt_1", fingerprint="-starts-with-a-dash")


def test_the_cli_round_trip(server: Server, tenant: Tenant, tmp_path: Path) -> None:
    product, _, key = setup_key(tenant, activations_limit=1)
    request = tmp_path / "request.txt"
    request.write_text(make_activation_request(key["key"], product, fingerprint="desk-7"))
    license_file = tmp_path / "machine.license"
    args = ("license-keys", "activate-offline", str(request), "--business-id", tenant.business_id)
    done = cli(server, *args, "--mode", "test", "-o", str(license_file))
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert (out["license_key_id"], out["fingerprint"]) == (key["id"], "desk-7")
    payload = verify(tenant, license_file.read_text(), fingerprint="desk-7")
    assert payload.license_key_instance_id == out["license_key_instance_id"]
    with pytest.raises(v.WrongInstance):
        verify(tenant, license_file.read_text(), fingerprint="desk-8")
    again = cli(server, *args, "--mode", "test")
    assert again.returncode == 1
    assert json.loads(again.stderr)["code"] == "ACTIVATION_REQUEST_USED"
    with tenant.http() as http:
        events = http.get("/audit_events", params={"target_id": out["activation_request_id"]})
    assert events.json()["items"][0]["actor"].startswith("cli:")
    # the other mode's face knows no such key
    live = cli(server, *args, "--mode", "live")
    assert json.loads(live.stderr)["code"] == "LICENSE_KEY_NOT_FOUND"


def armoured(body: dict[str, Any]) -> str:
    text = base64.b64encode(json.dumps(body).encode()).decode()
    return "\n".join(
        [
            "-----BEGIN LICENSOR ACTIVATION REQUEST-----",
            text,
            "-----END LICENSOR ACTIVATION REQUEST-----",
        ]
    )


def test_odd_requests_are_a_422_never_a_500(tenant: Tenant) -> None:
    good = json.loads(
        base64.b64decode(
            "".join(make_activation_request("KEY-1", "pdt_1", fingerprint="m-1").splitlines()[1:-1])
        )
    )
    odd = [
        {**good, "v": True},
        {
            **good,
            "created_at": "9999-12-31T23:00:00+00:00",
            "expires_at": "9999-12-31T23:30:00+00:00",
        },
        {**good, "created_at": "2026-12-01T00:00:00"},  # no offset
        {**good, "extra": 1},
        {k: val for k, val in good.items() if k != "fingerprint"},  # names no machine
        {**good, "license_key": ["KEY-1"]},
    ]
    for body in odd:
        r = upload(tenant, armoured(body))
        assert (r.status_code, r.json()["code"]) == (422, "ACTIVATION_REQUEST_INVALID"), body
    for text in ("", "é" * 10, "x" * 9000):
        r = upload(tenant, text)
        assert r.status_code == 422, r.text


def test_the_file_is_signed_by_the_current_key_and_the_activation_is_announced(
    tenant: Tenant,
) -> None:
    """After a rotation the very next file carries the new kid (no cache); the activation
    queues `license_key_instance.activated`, as an online one does."""
    product, _, key = setup_key(tenant, activations_limit=3)
    with tenant.http() as http:
        made = http.post(
            "/webhooks",
            json={
                "url": "https://hooks.example.com/seats",
                "filter_types": ["license_key_instance.activated"],
            },
        )
        assert made.status_code == 200, made.text
    first = upload(tenant, make_activation_request(key["key"], product, fingerprint="m-1"))
    assert first.status_code == 201, first.text
    with tenant.http() as http:
        rotated = http.post("/signing_keys/rotate")
        assert rotated.status_code == 201, rotated.text
    second = upload(tenant, make_activation_request(key["key"], product, fingerprint="m-2"))
    assert second.status_code == 201, second.text
    assert verify(tenant, second.json()["license_file"]).kid == rotated.json()["kid"]
    assert verify(tenant, first.json()["license_file"]).kid != rotated.json()["kid"]
    with tenant.http() as http:
        page = http.get(f"/webhooks/{made.json()['id']}/deliveries").json()
    seats = {first.json()["license_key_instance_id"], second.json()["license_key_instance_id"]}
    assert [d["event_type"] for d in page["data"]] == ["license_key_instance.activated"] * 2
    with tenant.http() as http:
        bodies = [
            http.get(f"/webhooks/{made.json()['id']}/deliveries/{d['id']}").json()["request"]
            for d in page["data"]
        ]
    assert {b["data"]["id"] for b in bodies} == seats


def spent_requests(server: Server, key_id: str) -> set[str]:
    """The machines' ids of the redeemed requests kept for a key."""

    async def go(ctx: AppContext) -> set[str]:
        async with reading(ctx.db) as session:
            stmt = select(ActivationRequest.instance_id)
            rows = await session.scalars(stmt.where(ActivationRequest.license_key_id == key_id))
            return {str(row) for row in rows}

    return server.run(go)


def test_a_spent_request_is_deleted_a_day_after_it_expired(server: Server, tenant: Tenant) -> None:
    """The server's worker sweeps (every 10 s) the redeemed requests a day past their
    expiry; an expired one within that day, and a fresh one, stay."""
    product, _, key = setup_key(tenant, activations_limit=5)
    for name in ("old", "recent", "fresh"):
        text = make_activation_request(key["key"], product, instance_id=name)
        assert upload(tenant, text).status_code == 201
    assert spent_requests(server, key["id"]) == {"old", "recent", "fresh"}
    now = datetime.now(UTC)

    async def age(ctx: AppContext) -> None:  # as if that much time had gone by
        async with ctx.db.write_sessions() as session, session.begin():
            for name, expired in (("old", timedelta(hours=25)), ("recent", timedelta(hours=23))):
                stmt = update(ActivationRequest).values(expires_at=now - expired)
                await session.execute(stmt.where(ActivationRequest.instance_id == name))

    server.run(age)
    deadline = time.monotonic() + 30
    while "old" in spent_requests(server, key["id"]) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert spent_requests(server, key["id"]) == {"recent", "fresh"}
