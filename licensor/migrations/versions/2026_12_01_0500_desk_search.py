"""desk search columns, note ticket link and label

Revision ID: 0500
Revises: 0400
Create Date: 2026-12-01 20:57:22.949834+00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from licensor.kit.search import email_domain, fold

revision = "0500"
down_revision = "0400"
branch_labels = None
depends_on = None


LICENSES = sa.table(
    "desk_licenses",
    sa.column("id", sa.String),
    sa.column("licensee_name", sa.String),
    sa.column("licensee_company", sa.String),
    sa.column("licensee_email", sa.String),
    sa.column("licensee_name_lc", sa.String),
    sa.column("licensee_company_lc", sa.String),
    sa.column("licensee_email_lc", sa.String),
    sa.column("licensee_email_domain", sa.String),
)


def _backfill() -> None:
    """The folded copies of the licenses issued before this revision (in Python: SQLite's
    lower() folds ASCII only)."""
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(
            LICENSES.c.id,
            LICENSES.c.licensee_name,
            LICENSES.c.licensee_company,
            LICENSES.c.licensee_email,
        )
    ).all()
    for row_id, name, company, email in rows:
        bind.execute(
            LICENSES.update()
            .where(LICENSES.c.id == row_id)
            .values(
                licensee_name_lc=fold(name),
                licensee_company_lc=fold(company),
                licensee_email_lc=fold(email),
                licensee_email_domain=email_domain(email),
            )
        )


def upgrade() -> None:
    with op.batch_alter_table("desk_licenses", schema=None) as batch_op:
        for name, length in (
            ("licensee_name_lc", 300),
            ("licensee_company_lc", 300),
            ("licensee_email_lc", 320),
            ("licensee_email_domain", 320),
        ):
            batch_op.add_column(
                sa.Column(name, sa.String(length=length), nullable=False, server_default="")
            )
        batch_op.add_column(
            sa.Column("trial", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    _backfill()
    with op.batch_alter_table("desk_licenses", schema=None) as batch_op:
        for name in (
            "licensee_name_lc",
            "licensee_company_lc",
            "licensee_email_lc",
            "licensee_email_domain",
            "trial",
        ):
            batch_op.alter_column(name, server_default=None)
        batch_op.create_index(
            "ix_desk_licenses_company_lc",
            ["business_id", "mode", "licensee_company_lc", "created_at"],
            unique=False,
        )
        batch_op.create_index(
            "ix_desk_licenses_email_domain",
            ["business_id", "mode", "licensee_email_domain", "created_at"],
            unique=False,
        )
        batch_op.create_index(
            "ix_desk_licenses_email_lc",
            ["business_id", "mode", "licensee_email_lc", "created_at"],
            unique=False,
        )
        batch_op.create_index(
            "ix_desk_licenses_name_lc",
            ["business_id", "mode", "licensee_name_lc", "created_at"],
            unique=False,
        )
        batch_op.create_index(
            "ix_desk_licenses_subscription_external_id",
            ["business_id", "mode", "subscription_external_id", "created_at"],
            unique=False,
        )
        batch_op.create_index(
            "ix_desk_licenses_subscription",
            ["business_id", "mode", "subscription_id", "created_at"],
            unique=False,
        )
        batch_op.create_index(
            "ix_desk_licenses_duplicated_from_id", ["duplicated_from_id"], unique=False
        )
        batch_op.create_index(
            "ix_desk_licenses_trial", ["business_id", "mode", "trial", "created_at"], unique=False
        )

    with op.batch_alter_table("license_notes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ticket_link", sa.String(length=2000), nullable=True))
        batch_op.add_column(sa.Column("label", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("license_notes", schema=None) as batch_op:
        batch_op.drop_column("label")
        batch_op.drop_column("ticket_link")

    with op.batch_alter_table("desk_licenses", schema=None) as batch_op:
        batch_op.drop_index("ix_desk_licenses_trial")
        batch_op.drop_index("ix_desk_licenses_duplicated_from_id")
        batch_op.drop_index("ix_desk_licenses_subscription")
        batch_op.drop_index("ix_desk_licenses_subscription_external_id")
        batch_op.drop_index("ix_desk_licenses_name_lc")
        batch_op.drop_index("ix_desk_licenses_email_lc")
        batch_op.drop_index("ix_desk_licenses_email_domain")
        batch_op.drop_index("ix_desk_licenses_company_lc")
        batch_op.drop_column("trial")
        batch_op.drop_column("licensee_email_domain")
        batch_op.drop_column("licensee_email_lc")
        batch_op.drop_column("licensee_company_lc")
        batch_op.drop_column("licensee_name_lc")
