"""Migration 0700 binds the cloud instances activated before it to the activation code
that was live when each was activated (both backends): data made through the services
at head, the revision taken down to 0600 (its columns dropped) and up again."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.ext.asyncio import create_async_engine

from licensor.business import service as business_service
from licensor.config import Settings
from licensor.customer import service as customer_service
from licensor.customer.schemas import CustomerCreate
from licensor.kit import migrate
from licensor.kit.context import AppContext
from licensor.kit.origin import Origin, bind
from licensor.kit.tenancy import Principal
from licensor.license_desk import cloud_service
from licensor.plan import service as plan_service
from licensor.plan.schemas import PlanCreate
from licensor.subscription import codes
from licensor.subscription import service as subscription_service
from licensor.subscription.schemas import SubscriptionCreate
from tests.cli_helpers import invoke
from tests.servers import fresh_postgres_database


@pytest.fixture
def settings(backend: str, tmp_path: Path, _postgres_checked: bool) -> Iterator[Settings]:
    if backend == "sqlite":
        yield Settings(data_dir=tmp_path)
        return
    if not _postgres_checked:
        pytest.skip("PostgreSQL not reachable")
    with ExitStack() as stack:
        url = stack.enter_context(fresh_postgres_database(at_head=False))
        yield Settings(data_dir=tmp_path, database_url=url)


async def _seed(settings: Settings) -> dict[str, str]:
    """Instance `a` activated with the first code, `b` with the second (the first
    regenerated away in between): instance id -> the code's row id."""
    ctx = AppContext.from_settings(settings)
    try:
        async with ctx.db.write_sessions() as session, session.begin():
            bind(session, Origin("cli:test"))
            done = await business_service.bootstrap(
                session, ctx.vault, business_name="B", owner_email="o@b.test", mode="test"
            )
            who = Principal(done.business.id, "test", "test")
            customer = await customer_service.create(
                session, who, CustomerCreate(email="c@b.test", name="C")
            )
            await plan_service.create(session, who, PlanCreate(code="p", name="P", max_instances=2))
            now = datetime.now(UTC)
            body = SubscriptionCreate(
                customer_id=customer.id,
                plan_code="p",
                users_count=3,
                starts_at=now - timedelta(days=1),
                expires_at=now + timedelta(days=30),
                cloud_licensing="Yes",
                seat_reconciliation=True,
            )
            sub = await subscription_service.create(session, ctx, who, body)
            first, first_row = await codes.show(session, ctx.vault, sub)
            await cloud_service.activate(session, ctx.vault, first, "a", "test")
            second, second_row = await codes.issue(session, ctx.vault, sub)
            await cloud_service.activate(session, ctx.vault, second, "b", "test")
            return {"a": first_row.id, "b": second_row.id, "business_id": done.business.id}
    finally:
        await ctx.close()


async def _bindings(url: str) -> dict[str, str | None]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            stmt = sa.text("SELECT instance_id, activation_code_id FROM cloud_instances")
            return {r[0]: r[1] for r in await connection.execute(stmt)}
    finally:
        await engine.dispose()


def test_instances_are_bound_to_the_code_live_at_their_activation(settings: Settings) -> None:
    url = settings.resolved_database_url
    migrate.upgrade(url)
    expected = asyncio.run(_seed(settings))
    business_id = expected.pop("business_id")
    assert asyncio.run(_bindings(url)) == expected
    config = migrate.alembic_config(url)
    # The seed's audit events are unsealed (no worker ran): 1300's downgrade seals them,
    # as the sealer would, before the seal columns become NOT NULL again.
    command.downgrade(config, "0600")
    command.upgrade(config, "head")
    assert asyncio.run(_bindings(url)) == expected
    env = {"LICENSOR_DATA_DIR": str(settings.data_dir), "LICENSOR_DATABASE_URL": url}
    done = invoke(env, "audit", "verify", "--business-id", business_id, "--no-seal")
    assert done.returncode == 0, done.stderr
    (chain,) = json.loads(done.stdout)
    assert chain["ok"] is True
    assert chain["unsealed"] == 0
    assert chain["events"] == chain["head_seq"] > 0
