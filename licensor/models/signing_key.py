from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from licensor.kit.clock import utcnow
from licensor.kit.db import Base, UTCDateTime


class SigningKey(Base):
    """An Ed25519 key pair of one business and mode. The newest is current; older keys
    stay published so that what they signed still verifies. The private half is kept
    only AES-GCM encrypted under the server secret, bound to the key id."""

    __tablename__ = "signing_keys"
    __table_args__ = (
        Index("ix_signing_keys_business_id_mode", "business_id", "mode", "created_at"),
    )

    kid: Mapped[str] = mapped_column(String(40), primary_key=True)
    business_id: Mapped[str] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    mode: Mapped[str] = mapped_column(String(4))
    algorithm: Mapped[str] = mapped_column(String(20), default="Ed25519")
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    private_key_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
