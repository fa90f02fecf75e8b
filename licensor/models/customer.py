from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, validates

from licensor.kit.clock import utcnow
from licensor.kit.db import Base, UTCDateTime
from licensor.kit.search import fold


class Customer(Base):
    """A customer. `email_lc` is the folded copy of `email` (kit/search.py), kept by the
    model whenever `email` is set, so an address is matched from a plain B-tree index
    (the list's `email` filter, the key search, an import matching customers by email)."""

    __tablename__ = "customers"
    __table_args__ = (
        Index("ix_customers_business_id_mode_created_at", "business_id", "mode", "created_at"),
        Index("ix_customers_business_id_mode_email_lc", "business_id", "mode", "email_lc"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    business_id: Mapped[str] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    mode: Mapped[str] = mapped_column(String(4))
    email: Mapped[str] = mapped_column(String(320))
    email_lc: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(300))
    phone_number: Mapped[str | None] = mapped_column(String(40), default=None)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @validates("email")
    def _fold_email(self, _key: str, value: str) -> str:
        self.email_lc = fold(value)
        return value
