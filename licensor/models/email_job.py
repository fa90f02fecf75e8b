from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from licensor.kit.clock import utcnow
from licensor.kit.db import Base, UTCDateTime


class EmailJob(Base):
    """One license email in the transactional outbox, written in the license's transaction.

    `status` is queued → sending → sent, or failed after `max_attempts`. A worker claims a
    job by setting `locked_by` (a token per claim) and `locked_until` (the lease): a job
    whose lease ran out is claimed again, so a crashed worker's job is not lost. What the
    template needs (the key, a license file) is in `payload_encrypted`, AES-GCM bound to
    the job id. `message_id` is fixed at enqueue so that every attempt sends the same one.
    """

    __tablename__ = "email_jobs"
    __table_args__ = (
        Index("ix_email_jobs_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_email_jobs_license_id", "license_id", "created_at"),
        Index("ix_email_jobs_business_id_mode", "business_id", "mode", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    business_id: Mapped[str] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    mode: Mapped[str] = mapped_column(String(4))
    license_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(20))
    template: Mapped[str] = mapped_column(String(64))
    recipient: Mapped[str] = mapped_column(String(320))
    licensee_email: Mapped[str] = mapped_column(String(320))
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    payload_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    message_id: Mapped[str] = mapped_column(String(400))
    status: Mapped[str] = mapped_column(String(10), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    locked_by: Mapped[str | None] = mapped_column(String(80), default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    resend_of: Mapped[str | None] = mapped_column(String(40), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
