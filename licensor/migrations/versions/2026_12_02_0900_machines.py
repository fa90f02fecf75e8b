"""machines: a product's license policy, instance fingerprints and heartbeats

Revision ID: 0900
Revises: 0800
Create Date: 2026-12-02 09:00:00.000000+00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import licensor.kit.db

revision = "0900"
down_revision = "0800"
branch_labels = None
depends_on = None

POLICY = (
    ("license_model", sa.String(length=12), "node_locked"),
    ("fingerprint_match", sa.String(length=20), "exact"),
    ("heartbeat_interval_seconds", sa.Integer(), "600"),
    ("heartbeat_grace_seconds", sa.Integer(), "120"),
    ("expiry_grace_days", sa.Integer(), "0"),
    ("grace_behaviour", sa.String(length=20), "valid_with_warning"),
)


def upgrade() -> None:
    # Existing products keep today's behaviour: node-locked, exact fingerprints, no grace.
    with op.batch_alter_table("products", schema=None) as batch_op:
        for name, type_, default in POLICY:
            batch_op.add_column(
                sa.Column(name, type_, nullable=False, server_default=sa.text(f"'{default}'"))
            )
    with op.batch_alter_table("license_key_instances", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fingerprint", sa.String(length=200), nullable=True))
        batch_op.add_column(
            sa.Column("last_heartbeat_at", licensor.kit.db.UTCDateTime(), nullable=True)
        )
    # An instance activated before heartbeats existed was last heard of at its activation.
    op.execute("UPDATE license_key_instances SET last_heartbeat_at = created_at")
    with op.batch_alter_table("license_key_instances", schema=None) as batch_op:
        batch_op.alter_column(
            "last_heartbeat_at", existing_type=licensor.kit.db.UTCDateTime(), nullable=False
        )
        batch_op.create_index(
            "uq_license_key_instances_fingerprint", ["license_key_id", "fingerprint"], unique=True
        )
        batch_op.create_index(
            "ix_license_key_instances_heartbeat", ["license_key_id", "last_heartbeat_at"]
        )


def downgrade() -> None:
    with op.batch_alter_table("license_key_instances", schema=None) as batch_op:
        batch_op.drop_index("ix_license_key_instances_heartbeat")
        batch_op.drop_index("uq_license_key_instances_fingerprint")
        batch_op.drop_column("last_heartbeat_at")
        batch_op.drop_column("fingerprint")
    with op.batch_alter_table("products", schema=None) as batch_op:
        for name, _, _ in reversed(POLICY):
            batch_op.drop_column(name)
