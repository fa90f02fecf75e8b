from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from licensor.kit.clock import utcnow
from licensor.kit.db import Base, UTCDateTime

OWNER_ONLY = text("role = 'owner'")


class OrgMember(Base):
    """A person in a customer organisation: `owner`, `admin` or `member`.

    The partial unique index allows one owner per organisation whatever the
    concurrency (SQLite and PostgreSQL both support it); a transfer demotes the old
    owner before it promotes the new one, inside one transaction.
    `password_hash` is argon2id, None until the member accepts an invitation.
    """

    __tablename__ = "org_members"
    __table_args__ = (
        UniqueConstraint("customer_id", "email"),
        Index(
            "uq_org_members_one_owner",
            "customer_id",
            unique=True,
            sqlite_where=OWNER_ONLY,
            postgresql_where=OWNER_ONLY,
        ),
        Index("ix_org_members_email", "email"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    business_id: Mapped[str] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    mode: Mapped[str] = mapped_column(String(4))
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(10))
    password_hash: Mapped[str | None] = mapped_column(String(200), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
