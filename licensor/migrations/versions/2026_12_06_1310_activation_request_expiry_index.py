"""activation requests: an index on expires_at, for the worker's sweep

Revision ID: 1310
Revises: 1300
Create Date: 2026-12-06 22:19:53.343545+00:00

A redeemed air-gapped request is kept so that it is taken once; a day after it expired
the worker's sweep deletes it (`license_key/service.py` `prune_activation_requests`), the
oldest first, through this index.
"""

from __future__ import annotations

from alembic import op

revision = "1310"
down_revision = "1300"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_activation_requests_expires_at", "activation_requests", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_activation_requests_expires_at", table_name="activation_requests")
