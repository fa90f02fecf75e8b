from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from licensor.kit.clock import utcnow
from licensor.kit.db import Base, UTCDateTime


class Product(Base):
    """A product and the defaults for the license keys issued for it."""

    __tablename__ = "products"
    __table_args__ = (
        Index("ix_products_business_id_mode_created_at", "business_id", "mode", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    business_id: Mapped[str] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    mode: Mapped[str] = mapped_column(String(4))
    name: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text, default=None)
    price: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    tax_category: Mapped[str | None] = mapped_column(String(40), default=None)
    is_recurring: Mapped[bool] = mapped_column(Boolean, default=False)
    license_key_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    license_key_activations_limit: Mapped[int | None] = mapped_column(Integer, default=None)
    license_key_duration_count: Mapped[int | None] = mapped_column(Integer, default=None)
    license_key_duration_interval: Mapped[str | None] = mapped_column(String(10), default=None)
    license_key_activation_message: Mapped[str | None] = mapped_column(Text, default=None)
    key_format: Mapped[str] = mapped_column(String(20), default="base32")
    key_prefix: Mapped[str | None] = mapped_column(String(16), default=None)
    # The license policy (product/policy.py, docs/machines.md), read live by the checks.
    license_model: Mapped[str] = mapped_column(String(12), default="node_locked")
    fingerprint_match: Mapped[str] = mapped_column(String(20), default="exact")
    heartbeat_interval_seconds: Mapped[int] = mapped_column(Integer, default=600)
    heartbeat_grace_seconds: Mapped[int] = mapped_column(Integer, default=120)
    expiry_grace_days: Mapped[int] = mapped_column(Integer, default=0)
    grace_behaviour: Mapped[str] = mapped_column(String(20), default="valid_with_warning")
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
