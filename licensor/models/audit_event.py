from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from licensor.kit.db import Base, UTCDateTime


class AuditEvent(Base):
    """One change on the record: append-only (triggers refuse UPDATE and DELETE) and
    hash-chained per business and mode (`seq`, `prev_hash`, `hash`; `audit/chain.py`).

    Written unchained (the three seal columns NULL) in the change's transaction, then
    sealed by `audit/sealer.py`: the one UPDATE the triggers allow sets them, once."""

    __tablename__ = "audit_events"
    __table_args__ = (
        UniqueConstraint("business_id", "mode", "seq"),
        # Without `seq`: sealing an event does not rewrite its entry here.
        Index(
            "ix_audit_events_target",
            "business_id",
            "mode",
            "target_type",
            "target_id",
            "created_at",
        ),
        Index("ix_audit_events_created_at", "business_id", "mode", "created_at"),
        Index(
            "ix_audit_events_unsealed",
            "business_id",
            "mode",
            "created_at",
            "id",
            sqlite_where=text("hash IS NULL"),
            postgresql_where=text("hash IS NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    business_id: Mapped[str] = mapped_column(ForeignKey("businesses.id"))
    mode: Mapped[str] = mapped_column(String(4))
    seq: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(80))
    target_type: Mapped[str] = mapped_column(String(40))
    target_id: Mapped[str] = mapped_column(String(80))
    changes: Mapped[dict[str, Any]] = mapped_column(JSON)
    note: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(String(128))
    client_address: Mapped[str | None] = mapped_column(String(64))
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))


class AuditChainHead(Base):
    """The last sealed link of one business and mode's chain: locked (`UPDATE …
    RETURNING`) first by the sealer's transaction, so two sealers never chain onto the
    same predecessor. It also names the chain's length, so a deleted tail shows."""

    __tablename__ = "audit_chain_heads"

    business_id: Mapped[str] = mapped_column(ForeignKey("businesses.id"), primary_key=True)
    mode: Mapped[str] = mapped_column(String(4), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
