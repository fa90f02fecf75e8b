"""cloud instances: the activation code each was activated with, revocation, and the cap
on instances per subscription (plans.max_instances, subscriptions.max_instances)

Revision ID: 0700
Revises: 0600
Create Date: 2026-12-02 00:25:46.436894+00:00
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import licensor.kit.db

revision = "0700"
down_revision = "0600"
branch_labels = None
depends_on = None

INSTANCES = sa.table(
    "cloud_instances",
    sa.column("id", sa.String),
    sa.column("subscription_id", sa.String),
    sa.column("activated_at", licensor.kit.db.UTCDateTime(timezone=True)),
    sa.column("activation_code_id", sa.String),
)
CODES = sa.table(
    "activation_codes",
    sa.column("id", sa.String),
    sa.column("subscription_id", sa.String),
    sa.column("created_at", licensor.kit.db.UTCDateTime(timezone=True)),
)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _backfill() -> None:
    """Each instance activated before this revision gets the code it was activated with:
    a subscription has one live code at a time, so it is the last one created at or
    before the activation. (An instance re-activated later with a newer code is bound to
    the older one and activates again once; none found: left null, treated as revoked.)"""
    bind = op.get_bind()
    codes: dict[str, list[tuple[datetime, str]]] = {}
    for code_id, sub_id, created_at in bind.execute(
        sa.select(CODES.c.id, CODES.c.subscription_id, CODES.c.created_at)
    ):
        codes.setdefault(sub_id, []).append((_utc(created_at), code_id))
    rows = bind.execute(
        sa.select(INSTANCES.c.id, INSTANCES.c.subscription_id, INSTANCES.c.activated_at)
    ).all()
    for row_id, sub_id, activated_at in rows:
        earlier = [c for c in codes.get(sub_id, []) if c[0] <= _utc(activated_at)]
        if earlier:
            bind.execute(
                INSTANCES.update()
                .where(INSTANCES.c.id == row_id)
                .values(activation_code_id=max(earlier)[1])
            )


def upgrade() -> None:
    with op.batch_alter_table("cloud_instances", schema=None) as batch_op:
        batch_op.add_column(sa.Column("activation_code_id", sa.String(length=40), nullable=True))
        batch_op.add_column(
            sa.Column("revoked_at", licensor.kit.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(
            "ix_cloud_instances_subscription_activated",
            ["subscription_id", "activated_at"],
            unique=False,
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_cloud_instances_activation_code_id_activation_codes"),
            "activation_codes",
            ["activation_code_id"],
            ["id"],
            ondelete="SET NULL",
        )
    _backfill()

    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("max_instances", sa.Integer(), nullable=False, server_default="1")
        )
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.alter_column("max_instances", server_default=None)

    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("max_instances", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.drop_column("max_instances")

    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.drop_column("max_instances")

    with op.batch_alter_table("cloud_instances", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_cloud_instances_activation_code_id_activation_codes"),
            type_="foreignkey",
        )
        batch_op.drop_index("ix_cloud_instances_subscription_activated")
        batch_op.drop_column("revoked_at")
        batch_op.drop_column("activation_code_id")
