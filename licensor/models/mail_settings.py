from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from licensor.kit.clock import utcnow
from licensor.kit.db import Base, UTCDateTime


class MailSettings(Base):
    """How a business's license emails look and whom they may never go to."""

    __tablename__ = "mail_settings"
    __table_args__ = (UniqueConstraint("business_id", "mode"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    business_id: Mapped[str] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    mode: Mapped[str] = mapped_column(String(4))
    sender_name: Mapped[str | None] = mapped_column(String(200), default=None)
    sender_email: Mapped[str | None] = mapped_column(String(320), default=None)
    reply_to: Mapped[str | None] = mapped_column(String(320), default=None)
    footer: Mapped[str | None] = mapped_column(Text, default=None)
    domain: Mapped[str | None] = mapped_column(String(253), default=None)
    staff_domains: Mapped[list[str]] = mapped_column(JSON, default=list)
    reseller_domains: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
