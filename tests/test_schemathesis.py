"""Schemathesis over the OpenAPI of both faces (`/` live, `/test` test) of a real server:
no 5xx, responses match the schema and their status codes are documented.

The two faces serve the same routes (tests/test_faces.py shows what differs), so with
both backends selected each face is fuzzed once: live on the first backend, test on the
second; with one backend, both faces on it. Bounded by examples per operation.
LICENSOR_ST_SEED / LICENSOR_ST_EXAMPLES change the seed and the budget.

Each face's operations are split into SHARDS runs (every operation in exactly one, by its
place in the sorted list of `METHOD /path` names), so that pytest-xdist spreads one face's
fuzzing over its workers instead of one worker spending minutes on it alone."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests import net
from tests.conftest import BACKENDS
from tests.helpers import activate, make_customer, make_key, make_product, unique
from tests.servers import Server

CHECKS = "not_a_server_error,response_schema_conformance,status_code_conformance"
SEED = os.environ.get("LICENSOR_ST_SEED", "20261123")
EXAMPLES = os.environ.get("LICENSOR_ST_EXAMPLES", "20")
TIMEOUT_SECONDS = 600  # a hung run fails instead of stalling the suite
FACES = ["live", "test"]
SHARDS = 4


def faces_of(backend: str, backends: list[str]) -> list[str]:
    """The faces fuzzed on `backend`: one each when both backends run, else both."""
    if len(backends) < 2:
        return FACES
    return [FACES[backends.index(backend) % 2]]


def st_command() -> list[str]:
    exe = Path(sys.executable).parent / "st"
    if exe.exists():
        return [str(exe)]
    found = shutil.which("st") or shutil.which("schemathesis")
    if found is None:
        pytest.fail("schemathesis is not installed (pip install -e '.[dev]')")
    return [found]


def config_for(ids: dict[str, str]) -> str:
    """Real ids for path parameters, so the fuzzer reaches existing rows, not only 404s."""
    lines = [
        "[parameters]",
        f'customer_id = "{ids["customer_id"]}"',
        f'product_id = "{ids["product_id"]}"',
    ]
    for path, value in [
        ("/license_keys/{id}", ids["license_key_id"]),
        ("/license_key_instances/{id}", ids["instance_id"]),
    ]:
        lines += [
            "",
            "[[operations]]",
            f'include-path = "{path}"',
            f'parameters = {{ id = "{value}" }}',
        ]
    return "\n".join(lines) + "\n"


def operation_names(schema: dict[str, Any]) -> list[str]:
    """Every operation of the schema as schemathesis names it: `METHOD /path`, sorted."""
    methods = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
    return sorted(
        f"{method.upper()} {path}"
        for path, item in schema["paths"].items()
        for method in item
        if method in methods
    )


def shard_of(names: list[str], shard: int) -> list[str]:
    return names[shard::SHARDS]


def test_the_shards_cover_every_operation_once() -> None:
    names = [f"GET /r{i}" for i in range(11)]
    shards = [shard_of(names, i) for i in range(SHARDS)]
    assert sorted(n for s in shards for n in s) == sorted(names)
    assert all(shards)


@pytest.mark.parametrize("shard", range(SHARDS), ids=[f"{i + 1}of{SHARDS}" for i in range(SHARDS)])
@pytest.mark.parametrize("mode", FACES)
def test_schemathesis_finds_nothing(server: Server, tmp_path: Path, mode: str, shard: int) -> None:
    if mode not in faces_of(server.backend, BACKENDS):
        pytest.skip(f"the {mode} face is fuzzed on the other backend")
    tenant = server.tenant(mode=mode)
    schema = net.get(f"{tenant.base_url}/openapi.json").json()
    assert schema.get("servers", []) == ([{"url": "/test"}] if mode == "test" else [])
    everything = operation_names(schema)
    assert len(everything) >= 20
    mine = shard_of(everything, shard)
    only = "^(" + "|".join(re.escape(name) for name in mine) + ")$"
    product_id = make_product(
        tenant,
        license_key_activations_limit=1000,
        license_key_duration={"count": 1, "interval": "Year"},
    )
    customer_id = make_customer(tenant)
    lk = make_key(tenant, customer_id, product_id, unique())
    made = activate(tenant.base_url, lk["key"])
    assert made.status_code == 201, made.text
    config = tmp_path / "schemathesis.toml"
    config.write_text(
        config_for(
            {
                "customer_id": customer_id,
                "product_id": product_id,
                "license_key_id": lk["id"],
                "instance_id": made.json()["id"],
            }
        )
    )
    cmd = [
        *st_command(),
        "--no-color",
        "--config-file",
        str(config),
        "run",
        f"{tenant.base_url}/openapi.json",
        "--header",
        f"Authorization: Bearer {tenant.api_key}",
        "--include-name-regex",
        only,
        "--checks",
        CHECKS,
        "--max-examples",
        EXAMPLES,
        "--seed",
        SEED,
        "--workers",
        "1",  # with 2, CPython 3.11's ast.parse in hypothesis raced ("AST constructor recursion")
        "--request-timeout",
        "30",
        "--output-truncate",
        "false",
    ]
    done = subprocess.run(
        cmd, cwd=tmp_path, capture_output=True, text=True, timeout=TIMEOUT_SECONDS
    )
    report = done.stdout[-20000:] + done.stderr[-5000:]
    assert done.returncode == 0, report
    operations = len(mine)
    assert f"Tested: {operations}" in done.stdout, report  # every operation was exercised
    counts = re.search(r"(\d+) generated, (\d+) passed\n", done.stdout)
    assert counts is not None, report  # no "found N unique failures"
    assert counts.group(1) == counts.group(2), report
    assert int(counts.group(1)) >= 10 * operations, report
    # the tenant's data is still readable in strict SDK terms after the fuzzing
    sdk = tenant.sdk()
    assert sdk.license_keys.retrieve(lk["id"]).id == lk["id"]
    assert sdk.customers.retrieve(customer_id).customer_id == customer_id
