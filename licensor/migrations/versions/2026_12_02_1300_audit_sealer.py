"""audit log: events are written unchained and sealed after (seq, prev_hash, hash set once)

Revision ID: 1300
Revises: 1200
Create Date: 2026-12-02 12:00:00.000000+00:00

A change's transaction inserts its event with `seq`, `prev_hash` and `hash` NULL; the
sealer (`audit/sealer.py`) chains them shortly after. The append-only triggers now let
one UPDATE through: the seal columns from NULL to non-NULL, every other column unchanged.
Any other UPDATE, and every DELETE (and TRUNCATE on PostgreSQL), is still refused.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "1300"
down_revision = "1200"
branch_labels = None
depends_on = None

REFUSE = (
    "audit_events is append-only: UPDATE and DELETE are refused "
    "(only the sealer sets the seq, prev_hash and hash of an unsealed event, once)"
)
SEAL = ("seq", "prev_hash", "hash")
# Every column but the seal's; `changes` compared as text (PostgreSQL's json has no `=`).
KEPT = (
    "id",
    "business_id",
    "mode",
    "created_at",
    "actor",
    "action",
    "target_type",
    "target_id",
    "changes",
    "note",
    "request_id",
    "client_address",
)


def _sqlite_sealing() -> str:
    unsealed = " AND ".join(f"OLD.{c} IS NULL AND NEW.{c} IS NOT NULL" for c in SEAL)
    same = " AND ".join(f"NEW.{c} IS OLD.{c}" for c in KEPT)
    return f"{unsealed} AND {same}"


def _postgres_sealing() -> str:
    unsealed = " AND ".join(f"OLD.{c} IS NULL AND NEW.{c} IS NOT NULL" for c in SEAL)
    new = ", ".join(f"NEW.{c}::text" if c == "changes" else f"NEW.{c}" for c in KEPT)
    old = ", ".join(f"OLD.{c}::text" if c == "changes" else f"OLD.{c}" for c in KEPT)
    return f"{unsealed} AND ROW({new}) IS NOT DISTINCT FROM ROW({old})"


APPEND_ONLY = {
    "sqlite": [
        "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events "
        f"WHEN NOT ({_sqlite_sealing()}) BEGIN SELECT RAISE(ABORT, '{REFUSE}'); END",
        "CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events "
        f"BEGIN SELECT RAISE(ABORT, '{REFUSE}'); END",
    ],
    "postgresql": [
        "CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN "
        f"IF TG_OP = 'UPDATE' THEN IF {_postgres_sealing()} THEN RETURN NEW; END IF; END IF; "
        f"RAISE EXCEPTION '{REFUSE}' USING ERRCODE = 'insufficient_privilege'; END $$",
        "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events "
        "FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()",
        "CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events "
        "FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()",
        "CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()",
    ],
}
DROP_APPEND_ONLY = {
    "sqlite": [
        "DROP TRIGGER IF EXISTS audit_events_no_update",
        "DROP TRIGGER IF EXISTS audit_events_no_delete",
    ],
    "postgresql": [
        "DROP TRIGGER IF EXISTS audit_events_no_update ON audit_events",
        "DROP TRIGGER IF EXISTS audit_events_no_delete ON audit_events",
        "DROP TRIGGER IF EXISTS audit_events_no_truncate ON audit_events",
        "DROP FUNCTION IF EXISTS audit_events_append_only()",
    ],
}
# Revision 0600's triggers, put back by the downgrade.
OLD_REFUSE = "audit_events is append-only: UPDATE and DELETE are refused"
OLD_APPEND_ONLY = {
    "sqlite": [
        "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events "
        f"BEGIN SELECT RAISE(ABORT, '{OLD_REFUSE}'); END",
        "CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events "
        f"BEGIN SELECT RAISE(ABORT, '{OLD_REFUSE}'); END",
    ],
    "postgresql": [
        "CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN RAISE EXCEPTION '{OLD_REFUSE}' USING ERRCODE = 'insufficient_privilege'; "
        "END $$",
        *APPEND_ONLY["postgresql"][1:],
    ],
}
UNSEALED = sa.text("hash IS NULL")


def _seal_columns(*, nullable: bool) -> None:
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.alter_column("seq", existing_type=sa.BigInteger(), nullable=nullable)
        for column in ("prev_hash", "hash"):
            batch_op.alter_column(column, existing_type=sa.String(length=64), nullable=nullable)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    for statement in DROP_APPEND_ONLY[dialect]:  # SQLite's batch copy would drop them anyway
        op.execute(statement)
    _seal_columns(nullable=True)
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        # A target's events by time, not `seq`: sealing an event leaves this index alone.
        batch_op.drop_index("ix_audit_events_target")
        batch_op.create_index(
            "ix_audit_events_target",
            ["business_id", "mode", "target_type", "target_id", "created_at"],
            unique=False,
        )
        batch_op.create_index(
            "ix_audit_events_unsealed",
            ["business_id", "mode", "created_at", "id"],
            unique=False,
            sqlite_where=UNSEALED,
            postgresql_where=UNSEALED,
        )
    for statement in APPEND_ONLY[dialect]:
        op.execute(statement)


def _seal_everything() -> None:
    """Chain every unsealed event as the sealer would (`audit/sealer.py`): the seal
    columns become NOT NULL again, so no event may be left without them."""
    from licensor.audit import chain
    from licensor.models import AuditEvent

    bind = op.get_bind()
    events = AuditEvent.__table__
    unsealed = events.c.hash.is_(None)
    chains = bind.execute(sa.select(events.c.business_id, events.c.mode).where(unsealed).distinct())
    for business_id, mode in list(chains):
        key = {"b": business_id, "m": mode}
        found = bind.execute(
            sa.text("SELECT seq, hash FROM audit_chain_heads WHERE business_id = :b AND mode = :m"),
            key,
        ).first()
        head = (0, chain.GENESIS) if found is None else (int(found[0]), str(found[1]))
        if found is None:
            sealed = bind.execute(
                sa.select(events.c.id)
                .where(events.c.business_id == business_id, events.c.mode == mode)
                .where(events.c.hash.is_not(None))
                .limit(1)
            ).first()
            if sealed is not None:
                raise RuntimeError(
                    f"audit chain {business_id}/{mode}: sealed events but no chain head "
                    "(`licensor audit verify` reports it); cannot seal the rest to downgrade"
                )
            bind.execute(
                sa.text(
                    "INSERT INTO audit_chain_heads (business_id, mode, seq, prev_hash, hash) "
                    "VALUES (:b, :m, 0, :g, :g)"
                ),
                {**key, "g": chain.GENESIS},
            )
        rows = bind.execute(
            sa.select(*events.c)
            .where(events.c.business_id == business_id, events.c.mode == mode, unsealed)
            .order_by(events.c.created_at, events.c.id)
        ).mappings()
        drafts = [chain.Draft(**{n: row[n] for n in chain.Draft.__slots__}) for row in rows]
        linked = chain.link(drafts, *head)
        bind.execute(
            sa.update(AuditEvent)
            .where(events.c.id == sa.bindparam("event_id"))
            .values(
                seq=sa.bindparam("seal_seq"),
                prev_hash=sa.bindparam("seal_prev"),
                hash=sa.bindparam("seal_hash"),
            ),
            [
                {
                    "event_id": r["id"],
                    "seal_seq": r["seq"],
                    "seal_prev": r["prev_hash"],
                    "seal_hash": r["hash"],
                }
                for r in linked
            ],
        )
        last = linked[-1]
        bind.execute(
            sa.text(
                "UPDATE audit_chain_heads SET seq = :s, prev_hash = :p, hash = :h "
                "WHERE business_id = :b AND mode = :m"
            ),
            {**key, "s": last["seq"], "p": last["prev_hash"], "h": last["hash"]},
        )


def downgrade() -> None:
    """Seals every event first (as the sealer would): the seal columns become NOT NULL
    again."""
    _seal_everything()
    dialect = op.get_bind().dialect.name
    for statement in DROP_APPEND_ONLY[dialect]:
        op.execute(statement)
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_events_unsealed")
        batch_op.drop_index("ix_audit_events_target")
        batch_op.create_index(
            "ix_audit_events_target",
            ["business_id", "mode", "target_type", "target_id", "seq"],
            unique=False,
        )
    _seal_columns(nullable=False)
    for statement in OLD_APPEND_ONLY[dialect]:
        op.execute(statement)
