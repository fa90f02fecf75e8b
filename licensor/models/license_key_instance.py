from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from licensor.kit.clock import utcnow
from licensor.kit.db import Base, UTCDateTime


class LicenseKeyInstance(Base):
    """One activation of a license key (a machine, a seat, an installation).

    `fingerprint` is the machine's, in the form its product matches it by
    (`product/policy.py` `fingerprint_key`); one per key (the unique index), so a machine
    that activates again gets its seat back instead of a second one. `last_heartbeat_at`
    is the activation's time, then its latest heartbeat: a floating seat silent for longer
    than the policy's interval plus grace is freed (docs/machines.md).
    """

    __tablename__ = "license_key_instances"
    __table_args__ = (
        Index("ix_license_key_instances_license_key_id", "license_key_id", "created_at"),
        Index("ix_license_key_instances_business_id_mode", "business_id", "mode", "created_at"),
        Index("uq_license_key_instances_fingerprint", "license_key_id", "fingerprint", unique=True),
        Index("ix_license_key_instances_heartbeat", "license_key_id", "last_heartbeat_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    business_id: Mapped[str] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    mode: Mapped[str] = mapped_column(String(4))
    license_key_id: Mapped[str] = mapped_column(ForeignKey("license_keys.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(300))
    fingerprint: Mapped[str | None] = mapped_column(String(200), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
