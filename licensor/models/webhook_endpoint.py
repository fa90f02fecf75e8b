from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from licensor.kit.clock import utcnow
from licensor.kit.db import Base, UTCDateTime


class WebhookEndpoint(Base):
    """A business's webhook endpoint (Dodo's `WebhookDetails`), per mode.

    `filter_types` is the event types it wants (empty: every type); `filter_key` is the
    same list as `,a,b,` text (empty: all) so the hot paths' raw SQL can match a type
    with `instr`/`strpos`. The signing secret (`whsec_…`) and the custom headers are
    AES-GCM bound to the endpoint id; after a rotation the previous secret also signs
    until `previous_secret_expires_at`. `failing_since` is the first failed attempt
    since the last success: an endpoint failing for days is disabled.
    """

    __tablename__ = "webhook_endpoints"
    __table_args__ = (Index("ix_webhook_endpoints_business_id_mode", "business_id", "mode"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    business_id: Mapped[str] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    mode: Mapped[str] = mapped_column(String(4))
    url: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="")
    metadata_: Mapped[dict[str, str]] = mapped_column("metadata", JSON, default=dict)
    filter_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    filter_key: Mapped[str] = mapped_column(Text, default="")
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled_reason: Mapped[str | None] = mapped_column(Text, default=None)
    rate_limit: Mapped[int | None] = mapped_column(Integer, default=None)
    rate_window: Mapped[int] = mapped_column(BigInteger, default=0)  # epoch second of the count
    rate_count: Mapped[int] = mapped_column(Integer, default=0)
    headers_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    secret_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    previous_secret_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
