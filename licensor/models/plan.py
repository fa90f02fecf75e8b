from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from licensor.kit.clock import utcnow
from licensor.kit.db import Base, UTCDateTime


class Plan(Base):
    """A business's plan: a code (e.g. `premium`), a name, the features it entitles, and
    how many cloud instances a subscription to it may have active (`max_instances`,
    GitLab's one by default; a subscription may override it)."""

    __tablename__ = "plans"
    __table_args__ = (UniqueConstraint("business_id", "mode", "code"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    business_id: Mapped[str] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    mode: Mapped[str] = mapped_column(String(4))
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    features: Mapped[list[str]] = mapped_column(JSON, default=list)
    max_instances: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
