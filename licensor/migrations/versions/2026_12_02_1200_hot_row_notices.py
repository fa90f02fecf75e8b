"""hot row notices: PostgreSQL triggers that tell every process's row caches of a change

Revision ID: 1200
Revises: 1100
Create Date: 2026-12-02 12:00:00.000000+00:00

Every writer (the ORM, the raw hot stores, the CLI, an import's COPY) is covered by the
database itself: a change that validate's or the check-in's cached rows depend on sends
`pg_notify('licensor_hot', …)` at commit (kit/rowcache.py `Listener`). A row's notice
names the row (`<topic>:<key hash in hex>`, evict one entry); a statement's notice names
the topic alone (empty that cache: policy, plan, subscription and organisation changes,
which are rare). An activation's seat count, a key's last-seen time and the expiry
sweep's marks change no cached answer and send nothing.

SQLite has no NOTIFY: the same changes move a counter per topic in `hot_versions`
(triggers below), which a process reads when `PRAGMA data_version` says another
connection committed, and empties only the caches whose topic moved.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "1200"
down_revision = "1100"
branch_labels = None
depends_on = None

FUNCTIONS = [
    """
CREATE FUNCTION licensor_hot_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('licensor_hot', TG_ARGV[0] || ':' || encode(OLD.key_hash, 'hex'));
    RETURN NULL;
END $$
""",
    """
CREATE FUNCTION licensor_hot_all() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('licensor_hot', TG_ARGV[0]);
    RETURN NULL;
END $$
""",
]


def _changed(*columns: str) -> str:
    return " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in columns)


KEY_COLUMNS = (
    "disabled",
    "expires_at",
    "activations_limit",
    "key_hash",
    "product_id",
    "customer_id",
    "business_id",
    "mode",
)
INSTANCE_KEY_COLUMNS = ("revoked_at", "key_hash", "customer_id", "business_id", "mode")

# (trigger, table, events, level and condition, function with its topic)
TRIGGERS = [
    (
        "license_keys_hot_update",
        "license_keys",
        "AFTER UPDATE",
        "FOR EACH ROW WHEN (" + _changed(*KEY_COLUMNS) + ")",
        "licensor_hot_row('license_key')",
    ),
    (
        "license_keys_hot_delete",
        "license_keys",
        "AFTER DELETE",
        "FOR EACH ROW",
        "licensor_hot_row('license_key')",
    ),
    (
        "products_hot",
        "products",
        "AFTER UPDATE OR DELETE",
        "FOR EACH STATEMENT",
        "licensor_hot_all('license_key')",
    ),
    (
        "instance_keys_hot_update",
        "instance_keys",
        "AFTER UPDATE",
        "FOR EACH ROW WHEN (" + _changed(*INSTANCE_KEY_COLUMNS) + ")",
        "licensor_hot_row('instance_key')",
    ),
    (
        "instance_keys_hot_delete",
        "instance_keys",
        "AFTER DELETE",
        "FOR EACH ROW",
        "licensor_hot_row('instance_key')",
    ),
    (
        "customers_hot",
        "customers",
        "AFTER UPDATE OR DELETE",
        "FOR EACH STATEMENT",
        "licensor_hot_all('instance_key')",
    ),
    (
        "subscriptions_hot",
        "subscriptions",
        "AFTER INSERT OR UPDATE OR DELETE",
        "FOR EACH STATEMENT",
        "licensor_hot_all('instance_key')",
    ),
    (
        "plans_hot",
        "plans",
        "AFTER UPDATE OR DELETE",
        "FOR EACH STATEMENT",
        "licensor_hot_all('instance_key')",
    ),
]


TOPICS = ("license_key", "instance_key")


def _sqlite_changed(*columns: str) -> str:
    return " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in columns)


# (trigger, "events ON table", condition or "", topic): SQLite triggers are per row
SQLITE_TRIGGERS = [
    (
        "license_keys_hot_update",
        "AFTER UPDATE ON license_keys",
        _sqlite_changed(*KEY_COLUMNS),
        "license_key",
    ),
    ("license_keys_hot_delete", "AFTER DELETE ON license_keys", "", "license_key"),
    ("products_hot_update", "AFTER UPDATE ON products", "", "license_key"),
    ("products_hot_delete", "AFTER DELETE ON products", "", "license_key"),
    (
        "instance_keys_hot_update",
        "AFTER UPDATE ON instance_keys",
        _sqlite_changed(*INSTANCE_KEY_COLUMNS),
        "instance_key",
    ),
    ("instance_keys_hot_delete", "AFTER DELETE ON instance_keys", "", "instance_key"),
    ("customers_hot_update", "AFTER UPDATE ON customers", "", "instance_key"),
    ("customers_hot_delete", "AFTER DELETE ON customers", "", "instance_key"),
    ("subscriptions_hot_insert", "AFTER INSERT ON subscriptions", "", "instance_key"),
    ("subscriptions_hot_update", "AFTER UPDATE ON subscriptions", "", "instance_key"),
    ("subscriptions_hot_delete", "AFTER DELETE ON subscriptions", "", "instance_key"),
    ("plans_hot_update", "AFTER UPDATE ON plans", "", "instance_key"),
    ("plans_hot_delete", "AFTER DELETE ON plans", "", "instance_key"),
]


def _versions() -> None:
    table = op.create_table(
        "hot_versions",
        sa.Column("topic", sa.String(length=20), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("topic", name=op.f("pk_hot_versions")),
    )
    op.bulk_insert(table, [{"topic": topic, "version": 0} for topic in TOPICS])


def _sqlite_upgrade() -> None:
    for name, on, condition, topic in SQLITE_TRIGGERS:
        when = f" WHEN {condition}" if condition else ""
        op.execute(
            f"CREATE TRIGGER {name} {on} FOR EACH ROW{when} BEGIN "
            f"UPDATE hot_versions SET version = version + 1 WHERE topic = '{topic}'; END"
        )


def upgrade() -> None:
    _versions()
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_upgrade()
    if op.get_bind().dialect.name != "postgresql":
        return
    for function in FUNCTIONS:  # one statement each (asyncpg prepares them)
        op.execute(function)
    for name, table, events, level, function in TRIGGERS:
        op.execute(f"CREATE TRIGGER {name} {events} ON {table} {level} EXECUTE FUNCTION {function}")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for name, *_ in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    if dialect == "postgresql":
        for name, table, *_ in TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        op.execute("DROP FUNCTION IF EXISTS licensor_hot_row()")
        op.execute("DROP FUNCTION IF EXISTS licensor_hot_all()")
    op.drop_table("hot_versions")
