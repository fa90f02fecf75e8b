"""license-key import: import runs, customers' folded email, the key list's indexes

Revision ID: 1000
Revises: 0900
Create Date: 2026-12-02 09:00:00.000000+00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import licensor.kit.db
from licensor.kit.search import fold

revision = "1000"
down_revision = "0900"
branch_labels = None
depends_on = None

CUSTOMERS = sa.table(
    "customers",
    sa.column("id", sa.String),
    sa.column("email", sa.String),
    sa.column("email_lc", sa.String),
)


def _backfill() -> None:
    """The folded email of the customers made before this revision (in Python: SQLite's
    lower() folds ASCII only)."""
    bind = op.get_bind()
    rows = bind.execute(sa.select(CUSTOMERS.c.id, CUSTOMERS.c.email)).all()
    for row_id, email in rows:
        bind.execute(
            CUSTOMERS.update().where(CUSTOMERS.c.id == row_id).values(email_lc=fold(email))
        )


def upgrade() -> None:
    op.create_table(
        "import_runs",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("business_id", sa.String(length=40), nullable=False),
        sa.Column("mode", sa.String(length=4), nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("file_name", sa.String(length=300), nullable=False),
        sa.Column("file_format", sa.String(length=5), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("last_line", sa.Integer(), nullable=False),
        sa.Column("imported", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("customers_created", sa.Integer(), nullable=False),
        sa.Column("batches", sa.Integer(), nullable=False),
        sa.Column("created_at", licensor.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", licensor.kit.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", licensor.kit.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["business_id"],
            ["businesses.id"],
            name=op.f("fk_import_runs_business_id_businesses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_runs")),
        sa.UniqueConstraint(
            "business_id",
            "mode",
            "file_sha256",
            name=op.f("uq_import_runs_business_id_mode_file_sha256"),
        ),
    )
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("email_lc", sa.String(length=320), nullable=False, server_default="")
        )
    _backfill()
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.alter_column("email_lc", server_default=None)
        batch_op.create_index(
            "ix_customers_business_id_mode_email_lc",
            ["business_id", "mode", "email_lc"],
            unique=False,
        )
    with op.batch_alter_table("license_keys", schema=None) as batch_op:
        batch_op.drop_index("ix_license_keys_business_id_mode_created_at")
        batch_op.drop_index("ix_license_keys_customer_id")
        batch_op.create_index(
            "ix_license_keys_business_id_mode_created_at_id",
            ["business_id", "mode", "created_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_license_keys_business_id_mode_customer_id_created_at_id",
            ["business_id", "mode", "customer_id", "created_at", "id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("license_keys", schema=None) as batch_op:
        batch_op.drop_index("ix_license_keys_business_id_mode_customer_id_created_at_id")
        batch_op.drop_index("ix_license_keys_business_id_mode_created_at_id")
        batch_op.create_index("ix_license_keys_customer_id", ["customer_id"], unique=False)
        batch_op.create_index(
            "ix_license_keys_business_id_mode_created_at",
            ["business_id", "mode", "created_at"],
            unique=False,
        )
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_index("ix_customers_business_id_mode_email_lc")
        batch_op.drop_column("email_lc")
    op.drop_table("import_runs")
