from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from licensor.kit.clock import utcnow
from licensor.kit.db import Base, UTCDateTime


class StaffMember(Base):
    """A person of the vendor's own staff, signing in to the support console.

    Per business, not per mode: a staff member sees the live and the test data. `email`
    is stored normalised (trimmed, lower case), unique within the business. `role` is
    `admin`, `support` or `read_only`. `password_hash` is argon2id, None for an account
    that signs in only by single sign-on.
    """

    __tablename__ = "staff_members"
    __table_args__ = (
        UniqueConstraint("business_id", "email"),
        Index("ix_staff_members_email", "email"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    business_id: Mapped[str] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(10))
    password_hash: Mapped[str | None] = mapped_column(String(200), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
