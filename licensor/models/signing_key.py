from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String, text
from sqlalchemy.orm import Mapped, mapped_column

from licensor.kit.clock import utcnow
from licensor.kit.db import Base, UTCDateTime

ACTIVE_ONLY = text("state = 'active'")


class SigningKey(Base):
    """An Ed25519 key pair of one business and mode, in one of three states:

    - `active`: the one key that signs (license files, check-in and validate answers,
      revocation lists); at most one per business and mode (the partial unique index);
    - `retired` (`retired_at`): signs nothing, still published, so what it signed verifies;
    - `revoked` (`revoked_at`): gone from the JWKS and listed in the revocation list.

    The private half is kept only AES-GCM encrypted under the server secret, bound to the
    key id."""

    __tablename__ = "signing_keys"
    __table_args__ = (
        Index("ix_signing_keys_business_id_mode", "business_id", "mode", "created_at"),
        Index(
            "uq_signing_keys_one_active",
            "business_id",
            "mode",
            unique=True,
            sqlite_where=ACTIVE_ONLY,
            postgresql_where=ACTIVE_ONLY,
        ),
    )

    kid: Mapped[str] = mapped_column(String(40), primary_key=True)
    business_id: Mapped[str] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    mode: Mapped[str] = mapped_column(String(4))
    algorithm: Mapped[str] = mapped_column(String(20), default="Ed25519")
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    private_key_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    state: Mapped[str] = mapped_column(String(10), default="active", server_default="active")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
