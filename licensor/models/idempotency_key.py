from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from licensor.kit.clock import utcnow
from licensor.kit.db import Base, UTCDateTime


class IdempotencyKey(Base):
    """One `Idempotency-Key` of a business and mode (docs/events.md, "Idempotency").

    The key itself is kept only as its lookup hash. The first request claims the row in a
    short transaction of its own (`lease_token`, `locked_until`: the lease, so that a claim
    whose process died expires); `fingerprint` is the SHA-256 of the method, path, query
    and body, so a different request under the same key is refused. When the request has
    its answer, `status_code`, `response_headers` and the body (AES-GCM, bound to the row
    id: an answer may hold a license key) are written and `completed_at` set; from then
    on a retry is answered from them. Rows are deleted once
    `expires_at` (24 hours after the claim) has passed.
    """

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        UniqueConstraint("business_id", "mode", "key_hash"),
        Index("ix_idempotency_keys_expires_at", "expires_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    business_id: Mapped[str] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    mode: Mapped[str] = mapped_column(String(4))
    key_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    fingerprint: Mapped[bytes] = mapped_column(LargeBinary(32))
    lease_token: Mapped[str] = mapped_column(String(40))
    locked_until: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    response_headers: Mapped[list[Any] | None] = mapped_column(JSON, default=None)
    response_body_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
