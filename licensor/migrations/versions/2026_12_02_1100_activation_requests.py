"""activation requests: the redeemed requests of air-gapped machines, each taken once

Revision ID: 1100
Revises: 1000
Create Date: 2026-12-02 11:00:00.000000+00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import licensor.kit.db

revision = "1100"
down_revision = "1000"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "activation_requests",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("business_id", sa.String(length=40), nullable=False),
        sa.Column("mode", sa.String(length=4), nullable=False),
        sa.Column("request_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("license_key_id", sa.String(length=40), nullable=False),
        sa.Column("license_key_instance_id", sa.String(length=40), nullable=False),
        sa.Column("instance_id", sa.String(length=64), nullable=True),
        sa.Column("requested_at", licensor.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", licensor.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", licensor.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["businesses.id"],
            name=op.f("fk_activation_requests_business_id_businesses"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["license_key_id"],
            ["license_keys.id"],
            name=op.f("fk_activation_requests_license_key_id_license_keys"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activation_requests")),
        sa.UniqueConstraint("request_hash", name=op.f("uq_activation_requests_request_hash")),
    )
    with op.batch_alter_table("activation_requests", schema=None) as batch_op:
        batch_op.create_index(
            "ix_activation_requests_license_key_id", ["license_key_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("activation_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_activation_requests_license_key_id")
    op.drop_table("activation_requests")
