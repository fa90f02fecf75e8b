"""idempotency keys: one row per Idempotency-Key of a business and mode

Revision ID: 0300
Revises: 0200
Create Date: 2026-12-01 20:59:12.919491+00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import licensor.kit.db

revision = "0300"
down_revision = "0200"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("business_id", sa.String(length=40), nullable=False),
        sa.Column("mode", sa.String(length=4), nullable=False),
        sa.Column("key_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("fingerprint", sa.LargeBinary(length=32), nullable=False),
        sa.Column("lease_token", sa.String(length=40), nullable=False),
        sa.Column("locked_until", licensor.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", licensor.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", licensor.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("completed_at", licensor.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("response_headers", sa.JSON(), nullable=True),
        sa.Column("response_body_encrypted", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["businesses.id"],
            name=op.f("fk_idempotency_keys_business_id_businesses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_keys")),
        sa.UniqueConstraint(
            "business_id",
            "mode",
            "key_hash",
            name=op.f("uq_idempotency_keys_business_id_mode_key_hash"),
        ),
    )
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.create_index("ix_idempotency_keys_expires_at", ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.drop_index("ix_idempotency_keys_expires_at")

    op.drop_table("idempotency_keys")
