from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from licensor.kit.clock import utcnow
from licensor.kit.db import Base, UTCDateTime


class StaffSession(Base):
    """A console sign-in. Only the HMAC lookup hash of the cookie's token is kept.

    It ends at `expires_at` (absolute), when `last_seen_at` is older than the idle limit,
    on sign-out, and when the staff member is removed (cascade) or changes role (deleted).
    `method` says how it began: `password` or `sso`.
    """

    __tablename__ = "staff_sessions"
    __table_args__ = (Index("ix_staff_sessions_staff_id", "staff_id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    staff_id: Mapped[str] = mapped_column(ForeignKey("staff_members.id", ondelete="CASCADE"))
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    method: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
