"""merge the license desk, instance keys and outbox branches

Revision ID: 0040
Revises: 0010, 0020, 0030
Create Date: 2026-11-23 12:00:00
"""

from __future__ import annotations

revision = "0040"
down_revision = ("0010", "0020", "0030")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
