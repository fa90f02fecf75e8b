from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from licensor.kit.clock import utcnow
from licensor.kit.db import Base, UTCDateTime


class ActivationRequest(Base):
    """An air-gapped machine's activation request, redeemed (docs/machines.md,
    "Air-gapped activation"): kept so that it is taken once. The request's random id is
    kept only as its keyed hash (`request_hash`, unique across businesses); the row is
    written in the activation's own transaction (`license_key/store.py`), and deleted by the
    worker's sweep a day after it expired (`license_key/service.py`
    `prune_activation_requests`: by then the request is refused as expired anyway)."""

    __tablename__ = "activation_requests"
    __table_args__ = (
        Index("ix_activation_requests_license_key_id", "license_key_id"),
        Index("ix_activation_requests_expires_at", "expires_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    business_id: Mapped[str] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    mode: Mapped[str] = mapped_column(String(4))
    request_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    license_key_id: Mapped[str] = mapped_column(ForeignKey("license_keys.id", ondelete="CASCADE"))
    # the seat it took (or the machine's existing one); no foreign key: a seat can go
    license_key_instance_id: Mapped[str] = mapped_column(String(40))
    instance_id: Mapped[str | None] = mapped_column(String(64), default=None)  # the machine's own
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the request's created_at
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the request's, or the window's
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)  # redeemed
