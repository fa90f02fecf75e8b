from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from licensor.kit.clock import utcnow
from licensor.kit.db import Base, UTCDateTime


class LicenseKey(Base):
    """A license key. Found by `key_hash` (HMAC); the key itself only AES-GCM encrypted.

    `instances_count` is maintained by atomic conditional updates, which is what keeps
    activations within `activations_limit` under any concurrency.
    """

    __tablename__ = "license_keys"
    __table_args__ = (
        # The list's order (newest first, then id) for a business and mode, and for one
        # customer: a page is read from the index in order, a deep page's ids from the
        # index alone (`service.list_page`).
        Index(
            "ix_license_keys_business_id_mode_created_at_id",
            "business_id",
            "mode",
            "created_at",
            "id",
        ),
        Index(
            "ix_license_keys_business_id_mode_customer_id_created_at_id",
            "business_id",
            "mode",
            "customer_id",
            "created_at",
            "id",
        ),
        Index("ix_license_keys_product_id", "product_id"),
        Index("ix_license_keys_expires_at", "expires_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    business_id: Mapped[str] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    mode: Mapped[str] = mapped_column(String(4))
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    product_id: Mapped[str] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"))
    key_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    key_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    source: Mapped[str] = mapped_column(String(10))
    activations_limit: Mapped[int | None] = mapped_column(Integer, default=None)
    instances_count: Mapped[int] = mapped_column(Integer, default=0)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # When the `license_key.expired` event was emitted (the worker's expiry sweep); cleared
    # when `expires_at` changes, so a key extended and expired again is announced again.
    expiry_announced_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    payment_id: Mapped[str | None] = mapped_column(String(64), default=None)
    subscription_id: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
