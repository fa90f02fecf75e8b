"""`licensor license-keys import`: CSV and JSON lines into a real server's database, on
SQLite and PostgreSQL — customers matched and created, products matched, rejected rows
reported by line (bad fields, duplicates in the file and in the database), a batch that
fails commits nothing, a run killed with SIGKILL resumes without a duplicate, and the
imported keys answer the public checks. Speed is bench/import_keys.py's."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from licensor.kit.secrets import Vault
from tests import net
from tests.helpers import make_customer, make_key, make_product
from tests.import_helpers import (
    all_keys,
    customer_emails,
    distinct_hashes,
    execute,
    imported,
    jsonl,
    key_count,
    new_key,
    report_of,
    run_import,
    run_row,
    write_csv,
    write_lines,
)
from tests.servers import Server, Tenant
from tests.zygote import licensor_process

COLUMNS = [
    "key",
    "customer",
    "product",
    "activations_limit",
    "expires_at",
    "disabled",
    "payment_id",
    "subscription_id",
    "customer_name",
]
NEXT_YEAR = (datetime.now(UTC) + timedelta(days=365)).replace(microsecond=0).isoformat()
LAST_YEAR = (datetime.now(UTC) - timedelta(days=365)).replace(microsecond=0).isoformat()
VAULT = Vault(os.urandom(32))


def validate(tenant: Tenant, key: str) -> bool:
    got = net.post(tenant.base_url + "/licenses/validate", json={"license_key": key})
    assert got.status_code == 200, got.text
    valid: bool = got.json()["valid"]
    return valid


def test_csv_matches_and_creates_customers_and_the_keys_validate(
    server: Server, tenant: Tenant, tmp_path: Path
) -> None:
    desktop = make_product(tenant, name="Desktop Pro", metadata={"external_id": "SKU-1"})
    server_product = make_product(tenant, name="Server Edition")
    ann = make_customer(tenant, email="Ann@Example.TEST", name="Ann")
    bob = make_customer(tenant, email="bob@old.test", name="Bob")
    with tenant.http() as http:  # the folded email follows a change of address
        assert http.patch(f"/customers/{bob}", json={"email": "Bob@New.test"}).status_code == 200
    rows, expected = [], {}
    for n in range(3000):
        key = new_key(n)
        if n % 3 == 0:
            customer, product = "ann@example.test", desktop
        elif n % 3 == 1:
            customer, product = f"buyer{n % 100}@new.test", "SKU-1"
        else:
            customer, product = (bob if n % 2 else "BOB@new.test"), "server edition"
        limit = "" if n % 10 == 0 else str(n % 7)
        expires = LAST_YEAR if n % 50 == 0 else ("" if n % 5 == 0 else NEXT_YEAR)
        disabled = "true" if n % 97 == 0 else ""
        rows.append(
            [key, customer, product, limit, expires, disabled, f"pay_{n}", "", f"Buyer {n % 100}"]
        )
        expected[key] = (limit, expires, disabled)
    path = write_csv(tmp_path / "keys.csv", COLUMNS, rows)
    # Two processes prepare the batches (`--workers`); they are still written in order.
    summary = imported(server, tenant, path, "--batch-size", "500", "--workers", "2")
    assert (summary["imported"], summary["rejected"]) == (3000, 0), summary
    assert summary["customers_created"] == 100
    assert (summary["batches"], summary["status"]) == (6, "completed")
    assert summary["report"] == str(tmp_path / "keys.csv.rejected.jsonl")
    assert report_of(tmp_path / "keys.csv.rejected.jsonl") == []

    emails = customer_emails(server, tenant.business_id)
    assert sorted(emails) == sorted(
        ["ann@example.test", "bob@new.test", *{f"buyer{n}@new.test" for n in range(100)}]
    )
    keys = all_keys(tenant)
    assert len(keys) == len({k["id"] for k in keys}) == 3000
    by_key = {k["key"]: k for k in keys}
    assert set(by_key) == set(expected)
    for key, (limit, expires, disabled) in expected.items():
        got = by_key[key]
        assert got["source"] == "import"
        assert got["activations_limit"] == (int(limit) if limit else None)
        assert (got["expires_at"] is None) == (expires == "")
        status = "disabled" if disabled else ("expired" if expires == LAST_YEAR else "active")
        assert got["status"] == status, (key, got)
    assert {k["product_id"] for k in keys} == {desktop, server_product}
    assert len(all_keys(tenant, customer_id=ann)) == 1000
    assert len(all_keys(tenant, customer_id=bob)) == 1000
    with tenant.http() as http:
        buyer = http.get("/customers", params={"email": "buyer7@new.test"}).json()["items"]
        assert [c["name"] for c in buyer] == ["Buyer 7"]
        events = http.get(
            "/audit_events", params={"target_id": summary["run_id"], "page_size": 100}
        ).json()["items"]
    actions = sorted(e["action"] for e in events)
    assert actions.count("license_key.imported") == 6
    assert actions.count("customer.imported") >= 1
    assert {"import_run.started", "import_run.completed"} <= set(actions)

    active = next(
        k for k in expected if by_key[k]["status"] == "active" and expected[k][0] in ("", "3")
    )
    assert validate(tenant, active)
    assert not validate(tenant, next(k for k in expected if expected[k][2]))  # disabled
    expired = next(k for k in expected if expected[k][1] == LAST_YEAR and not expected[k][2])
    assert not validate(tenant, expired)
    activated = net.post(
        tenant.base_url + "/licenses/activate", json={"license_key": active, "name": "laptop"}
    )
    assert activated.status_code == 201, activated.text


def test_the_list_pages_through_an_import_in_one_order(
    server: Server, tenant: Tenant, tmp_path: Path
) -> None:
    product = make_product(tenant, name="Paged")
    rows = [[new_key(n), f"p{n % 3}@page.test", product] for n in range(1200)]
    imported(
        server, tenant, write_csv(tmp_path / "p.csv", COLUMNS[:3], rows), "--batch-size", "250"
    )
    keys = all_keys(tenant)
    assert len(keys) == len({k["id"] for k in keys}) == 1200
    order = [(k["created_at"], k["id"]) for k in keys]
    assert order == sorted(order, reverse=True)  # newest first, then the greater id
    with tenant.http() as http:
        deep = http.get("/license_keys", params={"page_size": 7, "page_number": 101}).json()
        assert [k["id"] for k in deep["items"]] == [k["id"] for k in keys[707:714]]
        one = keys[0]["customer_id"]
        mine = [k for k in keys if k["customer_id"] == one]
        page = http.get(
            "/license_keys", params={"customer_id": one, "status": "active", "page_number": 3}
        ).json()["items"]
        assert [k["id"] for k in page] == [k["id"] for k in mine[30:40]]


def test_jsonl_reports_rejected_rows_by_line(
    server: Server, tenant: Tenant, tmp_path: Path
) -> None:
    product = make_product(
        tenant,
        name="Defaults",
        license_key_activations_limit=4,
        license_key_duration={"count": 2, "interval": "Month"},
    )
    make_product(tenant, name="Twin")
    make_product(tenant, name="twin")
    someone = make_customer(tenant, email="someone@example.test")
    make_key(tenant, someone, product, key="ALREADY-IN-THE-DATABASE-1")
    good = {"customer": "new@example.test", "product": product}
    lines = [
        jsonl({"key": "GOOD-0001", **good}),  # 1
        jsonl({"key": "GOOD-0002", **good, "activations_limit": None, "expires_at": None}),  # 2
        "",  # 3: blank, skipped
        jsonl({"key": "BAD-LIMIT-01", **good, "activations_limit": -1}),  # 4
        jsonl({"key": "BAD-EXPIRY-1", **good, "expires_at": "next tuesday"}),  # 5
        jsonl({"key": "   ", **good}),  # 6
        jsonl({"key": "BELL\u0007KEY", **good}),  # 7
        jsonl({"key": "UNKNOWN-FIELD", **good, "colour": "red"}),  # 8
        "{not json",  # 9
        "[1, 2]",  # 10
        jsonl({"key": "NO-CUSTOMER-1", "product": product}),  # 11
        jsonl({"key": "ODD-CUSTOMER", **good, "customer": "someone"}),  # 12
        jsonl({"key": "GHOST-CUSTOMER", **good, "customer": "cus_nobody"}),  # 13
        jsonl({"key": "NO-SUCH-PRODUCT", **good, "product": "Nope"}),  # 14
        jsonl({"key": "TWO-PRODUCTS-1", **good, "product": "TWIN"}),  # 15
        jsonl({"key": "GOOD-0001", **good}),  # 16: line 1's key, same batch
        jsonl({"key": "ALREADY-IN-THE-DATABASE-1", **good}),  # 17
        jsonl({"key": "GOOD-0003", **good, "customer": someone, "disabled": True}),  # 18
        jsonl({"key": "GOOD-0004", **good, "payment_id": "p" * 65}),  # 19
        jsonl({"key": "GOOD-0005", **good, "customer": "bad@@example.test"}),  # 20
    ]
    lines += [jsonl({"key": f"LATE-{n:04d}", **good}) for n in range(21, 40)]  # 21-39
    lines += [jsonl({"key": "GOOD-0002", **good})]  # 40: line 2's key, a later batch
    lines += [jsonl({"key": "EMPTY-PAYMENT", **good, "payment_id": ""})]  # 41: "" is a value
    path = write_lines(tmp_path / "keys.jsonl", lines)
    report = tmp_path / "rejected.jsonl"
    summary = imported(server, tenant, path, "--batch-size", "25", "--report", str(report))
    rejected = {r["line"]: r for r in report_of(report)}
    codes = {line: r["code"] for line, r in rejected.items()}
    assert codes == {
        4: "VALIDATION_ERROR",
        5: "VALIDATION_ERROR",
        6: "VALIDATION_ERROR",
        7: "VALIDATION_ERROR",
        8: "VALIDATION_ERROR",
        9: "VALIDATION_ERROR",
        10: "VALIDATION_ERROR",
        11: "VALIDATION_ERROR",
        12: "VALIDATION_ERROR",
        13: "CUSTOMER_NOT_FOUND",
        14: "PRODUCT_NOT_FOUND",
        15: "PRODUCT_AMBIGUOUS",
        16: "DUPLICATE_KEY_IN_FILE",
        17: "LICENSE_KEY_ALREADY_EXISTS",
        19: "VALIDATION_ERROR",
        20: "VALIDATION_ERROR",
        40: "LICENSE_KEY_ALREADY_EXISTS",
        41: "VALIDATION_ERROR",
    }
    assert [r["line"] for r in report_of(report)] == sorted(rejected)  # in file order
    assert rejected[4]["message"].startswith("activations_limit:")
    assert rejected[5]["message"].startswith("expires_at:")
    assert rejected[8]["message"] == "unknown field(s): colour"
    assert rejected[9]["message"].startswith("not valid JSON")
    assert rejected[11]["message"].startswith("customer: Field required")
    assert rejected[16]["message"] == "the same key as line 1"
    assert rejected[19]["message"].startswith("payment_id:")
    assert rejected[17]["key"] == "****SE-1"  # masked as the audit log masks secrets
    assert all("ALREADY-IN" not in json.dumps(r) for r in rejected.values())  # masked
    assert (summary["imported"], summary["rejected"]) == (3 + 19, len(codes))
    keys = {k["key"]: k for k in all_keys(tenant)}
    assert len(keys) == 1 + 22
    # Left out: the product's defaults; null: unlimited and never.
    assert keys["GOOD-0001"]["activations_limit"] == 4
    expiry = datetime.fromisoformat(keys["GOOD-0001"]["expires_at"])
    assert timedelta(days=55) < expiry - datetime.now(UTC) < timedelta(days=63)
    assert keys["GOOD-0002"]["activations_limit"] is None
    assert keys["GOOD-0002"]["expires_at"] is None
    assert keys["GOOD-0003"]["customer_id"] == someone
    assert keys["GOOD-0003"]["status"] == "disabled"
    assert len({k["customer_id"] for k in keys.values()}) == 2  # new@ created once


def test_a_bad_header_or_encoding_refuses_the_file(
    server: Server, tenant: Tenant, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "typo.csv", ["key", "customer", "product", "expiry"], [])
    done = run_import(server, tenant, path)
    assert done.returncode == 1
    assert done.error()["code"] == "IMPORT_FILE_INVALID"
    assert "expiry" in done.error()["message"]
    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"key,customer,product\nK\xe9Y,a@b.test,P\n")
    assert run_import(server, tenant, latin).error()["code"] == "IMPORT_FILE_INVALID"
    assert run_row(server, tenant.business_id) is None  # no run was started


def test_a_failing_batch_commits_nothing_and_the_run_resumes(
    server: Server, tenant: Tenant, tmp_path: Path
) -> None:
    product = make_product(tenant, name="Atomic")
    boom = f"boom-{uuid.uuid4().hex[:8]}"
    rows = [
        [new_key(n), f"a{n}@atomic.test", product, "", "", "", boom if n == 50 else "", "", ""]
        for n in range(100)
    ]
    rows[10][2] = "No such product"  # a rejected row of a committed batch: line 12
    rows[70][2] = "No such product"  # and of a batch after the failure: line 72
    path = write_csv(tmp_path / "atomic.csv", COLUMNS, rows)
    trigger = f"refuse_{boom.replace('-', '_')}"
    if server.backend == "sqlite":
        create = [
            f"CREATE TRIGGER {trigger} BEFORE INSERT ON license_keys "
            f"WHEN NEW.payment_id = '{boom}' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
        ]
        drop = [f"DROP TRIGGER {trigger}"]
    else:
        create = [
            f"CREATE FUNCTION {trigger}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"IF NEW.payment_id = '{boom}' THEN RAISE EXCEPTION 'refused by the test'; END IF; "
            "RETURN NEW; END $$",
            f"CREATE TRIGGER {trigger} BEFORE INSERT ON license_keys "
            f"FOR EACH ROW EXECUTE FUNCTION {trigger}()",
        ]
        drop = [f"DROP TRIGGER {trigger} ON license_keys", f"DROP FUNCTION {trigger}()"]
    execute(server, *create)
    try:
        done = run_import(server, tenant, path, "--batch-size", "20")
    finally:
        execute(server, *drop)
    assert done.returncode == 1, done.stdout
    assert done.error()["code"] == "IMPORT_BATCH_FAILED"
    assert "lines 42-61" in done.error()["message"]  # the header is line 1
    assert key_count(server, tenant.business_id) == 39  # batches 1 and 2, less line 12
    run = run_row(server, tenant.business_id)
    assert run is not None
    assert (run["status"], run["last_line"], run["imported"], run["batches"]) == (
        "running",
        41,
        39,
        2,
    )
    emails = customer_emails(server, tenant.business_id)
    assert "a39@atomic.test" in emails
    assert "a40@atomic.test" not in emails  # nor its customers
    assert [r["line"] for r in report_of(tmp_path / "atomic.csv.rejected.jsonl")] == [12]

    again = imported(server, tenant, path, "--batch-size", "20")
    assert (again["skipped_lines"], again["imported"], again["rejected"]) == (41, 59, 1)
    assert (again["run_imported"], again["run_rejected"], again["status"]) == (98, 2, "completed")
    assert key_count(server, tenant.business_id) == 98
    assert [r["line"] for r in report_of(tmp_path / "atomic.csv.rejected.jsonl")] == [12, 72]
    done_again = imported(server, tenant, path)  # a finished file: nothing more to do
    assert (done_again["imported"], done_again["skipped_lines"]) == (0, 101)


def children_of(pid: int) -> list[int]:
    found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(c) for c in found]


def test_a_run_killed_mid_import_resumes_without_duplicates(
    server: Server, tenant: Tenant, tmp_path: Path
) -> None:
    product = make_product(tenant, name="Killed")
    total = 20_000
    rows = [[new_key(n), f"k{n % 500}@kill.test", product] for n in range(total)]
    path = write_csv(tmp_path / "big.csv", COLUMNS[:3], rows)
    env = {
        **os.environ,
        "LICENSOR_DATA_DIR": str(server.settings.data_dir),
        "LICENSOR_DATABASE_URL": server.settings.resolved_database_url,
    }
    args = ["license-keys", "import", str(path)]
    args += ["--business-id", tenant.business_id, "--batch-size", "250", "--workers", "1"]
    out = (tmp_path / "out.txt").open("wb")
    proc = licensor_process(args, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            run = run_row(server, tenant.business_id)
            if run is not None and run["batches"] >= 3:
                break
            time.sleep(0.02)
        assert proc.poll() is None, (tmp_path / "out.txt").read_text()  # still importing
        children = children_of(proc.pid)  # the worker preparing batches (and its tracker)
        assert children
        proc.send_signal(signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
        out.close()
    assert proc.returncode == -signal.SIGKILL
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(Path(f"/proc/{c}").exists() for c in children):
        time.sleep(0.1)
    assert not [c for c in children if Path(f"/proc/{c}").exists()]  # none outlives it
    killed = run_row(server, tenant.business_id)
    assert killed is not None
    assert killed["status"] == "running"
    assert 0 < killed["imported"] < total
    assert key_count(server, tenant.business_id) == killed["imported"]  # whole batches only

    summary = imported(server, tenant, path, "--batch-size", "250")
    assert summary["skipped_lines"] == killed["last_line"]
    assert summary["imported"] == total - killed["imported"]
    assert summary["rejected"] == 0  # no line was written twice, so none collides
    assert (summary["run_imported"], summary["status"]) == (total, "completed")
    assert key_count(server, tenant.business_id) == total
    assert distinct_hashes(server, tenant.business_id) == total
    assert report_of(tmp_path / "big.csv.rejected.jsonl") == []


@given(st.text(max_size=600), st.sampled_from(["license_key", "api_key", ""]))
def test_the_bulk_hasher_is_the_vaults_lookup_hash(secret: str, purpose: str) -> None:
    assert VAULT.lookup_hasher(purpose)(secret) == VAULT.lookup_hash(secret, purpose)


def test_encrypt_many_is_encrypt_with_fresh_nonces() -> None:
    rows = ["lic_a", "lic_b", "lic_c"]
    blobs = VAULT.encrypt_many(["k1", "k2", "k1"], rows)
    assert [VAULT.decrypt(b, r) for b, r in zip(blobs, rows, strict=True)] == ["k1", "k2", "k1"]
    assert len({b[:12] for b in blobs}) == 3  # a nonce each
    assert all(len(b) == len(VAULT.encrypt("k1", "lic_a")) for b in blobs)
