from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from licensor.kit.clock import utcnow
from licensor.kit.db import Base, UTCDateTime


class Subscription(Base):
    """A customer's subscription to a plan, as the billing system knows it.

    `external_id` is the billing system's subscription id (the seed's Zuora id) and
    `name` its subscription name. `cloud_licensing` is `Yes`, `Offline`, `No`, or None for
    a legacy subscription; `seat_reconciliation` None means the field is absent, i.e.
    the subscription is not cloud-license compatible. `max_instances`, when set, overrides
    the plan's cap on active cloud instances.
    """

    __tablename__ = "subscriptions"
    __table_args__ = (
        UniqueConstraint("business_id", "mode", "external_id"),
        Index("ix_subscriptions_customer_id", "customer_id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    business_id: Mapped[str] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    mode: Mapped[str] = mapped_column(String(4))
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    plan_id: Mapped[str] = mapped_column(ForeignKey("plans.id", ondelete="RESTRICT"))
    users_count: Mapped[int] = mapped_column(Integer)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    external_id: Mapped[str | None] = mapped_column(String(100), default=None)
    name: Mapped[str | None] = mapped_column(String(200), default=None)
    cloud_licensing: Mapped[str | None] = mapped_column(String(10), default=None)
    seat_reconciliation: Mapped[bool | None] = mapped_column(Boolean, default=None)
    max_instances: Mapped[int | None] = mapped_column(Integer, default=None)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
