from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from licensor.kit.clock import utcnow
from licensor.kit.db import Base, UTCDateTime


class InstanceKey(Base):
    """A license key of a self-hosted instance, owned by a customer organisation.

    The key is shown once: only its HMAC lookup hash is kept, plus its first and last
    four characters for the masked form. The `last_*` columns record check-ins.
    """

    __tablename__ = "instance_keys"
    __table_args__ = (
        Index("ix_instance_keys_customer_id_created_at", "customer_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    business_id: Mapped[str] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    mode: Mapped[str] = mapped_column(String(4))
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    instance_name: Mapped[str | None] = mapped_column(String(200), default=None)
    key_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    key_head: Mapped[str] = mapped_column(String(4))
    key_tail: Mapped[str] = mapped_column(String(4))
    created_by: Mapped[str | None] = mapped_column(
        ForeignKey("org_members.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_version: Mapped[str | None] = mapped_column(String(100), default=None)
    last_instance_id: Mapped[str | None] = mapped_column(String(200), default=None)
