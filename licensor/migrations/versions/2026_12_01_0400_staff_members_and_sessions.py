"""staff members and sessions

Revision ID: 0400
Revises: 0040
Create Date: 2026-12-01 20:57:13.186534+00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import licensor.kit.db

revision = "0400"
down_revision = "0040"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staff_members",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("business_id", sa.String(length=40), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=10), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=True),
        sa.Column("created_at", licensor.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", licensor.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["businesses.id"],
            name=op.f("fk_staff_members_business_id_businesses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_members")),
        sa.UniqueConstraint(
            "business_id", "email", name=op.f("uq_staff_members_business_id_email")
        ),
    )
    with op.batch_alter_table("staff_members", schema=None) as batch_op:
        batch_op.create_index("ix_staff_members_email", ["email"], unique=False)

    op.create_table(
        "staff_sessions",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("staff_id", sa.String(length=40), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("created_at", licensor.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", licensor.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", licensor.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff_members.id"],
            name=op.f("fk_staff_sessions_staff_id_staff_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_staff_sessions_token_hash")),
    )
    with op.batch_alter_table("staff_sessions", schema=None) as batch_op:
        batch_op.create_index("ix_staff_sessions_staff_id", ["staff_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("staff_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_staff_sessions_staff_id")

    op.drop_table("staff_sessions")
    with op.batch_alter_table("staff_members", schema=None) as batch_op:
        batch_op.drop_index("ix_staff_members_email")

    op.drop_table("staff_members")
