"""signing key states: active, retired, revoked (one active key per business and mode)

Revision ID: 0800
Revises: 0700
Create Date: 2026-12-02 08:00:00+00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import licensor.kit.db

revision = "0800"
down_revision = "0700"
branch_labels = None
depends_on = None

# Before this revision the newest key of a business and mode was its current one and the
# older ones stayed published: they become `retired`, retired when the next key was made.
NEWER = (
    "FROM signing_keys n WHERE n.business_id = signing_keys.business_id "
    "AND n.mode = signing_keys.mode AND "
)
RETIRE_OLDER = (
    "UPDATE signing_keys SET state = 'retired', retired_at = COALESCE("
    f"(SELECT MIN(n.created_at) {NEWER}n.created_at > signing_keys.created_at), "
    "signing_keys.created_at) "
    f"WHERE EXISTS (SELECT 1 {NEWER}(n.created_at > signing_keys.created_at "
    "OR (n.created_at = signing_keys.created_at AND n.kid > signing_keys.kid)))"
)


def upgrade() -> None:
    with op.batch_alter_table("signing_keys", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("state", sa.String(length=10), server_default="active", nullable=False)
        )
        batch_op.add_column(
            sa.Column("retired_at", licensor.kit.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("revoked_at", licensor.kit.db.UTCDateTime(timezone=True), nullable=True)
        )
    op.execute(RETIRE_OLDER)
    with op.batch_alter_table("signing_keys", schema=None) as batch_op:
        batch_op.create_index(
            "uq_signing_keys_one_active",
            ["business_id", "mode"],
            unique=True,
            sqlite_where=sa.text("state = 'active'"),
            postgresql_where=sa.text("state = 'active'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("signing_keys", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_signing_keys_one_active",
            sqlite_where=sa.text("state = 'active'"),
            postgresql_where=sa.text("state = 'active'"),
        )
        batch_op.drop_column("revoked_at")
        batch_op.drop_column("retired_at")
        batch_op.drop_column("state")
