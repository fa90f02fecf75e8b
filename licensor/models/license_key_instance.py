from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from licensor.kit.clock import utcnow
from licensor.kit.db import Base, UTCDateTime


class LicenseKeyInstance(Base):
    """One activation of a license key (a machine, a seat, an installation)."""

    __tablename__ = "license_key_instances"
    __table_args__ = (
        Index("ix_license_key_instances_license_key_id", "license_key_id", "created_at"),
        Index("ix_license_key_instances_business_id_mode", "business_id", "mode", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    business_id: Mapped[str] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    mode: Mapped[str] = mapped_column(String(4))
    license_key_id: Mapped[str] = mapped_column(ForeignKey("license_keys.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
