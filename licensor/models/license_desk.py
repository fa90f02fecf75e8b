"""The license desk's tables: issued licenses, their notes, activation codes, cloud
instances and the seat-link usage history. Kept in one module so the shared model
registry needs one line; each class is one table."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from licensor.kit.clock import utcnow
from licensor.kit.db import Base, UTCDateTime


class DeskLicense(Base):
    """A license issued by the desk (legacy, offline_cloud) or by cloud activation
    (online_cloud). Its terms are a snapshot taken at issue time; the signed file is
    rendered from them. `key` (encrypted, HMAC-looked-up) binds optional file encryption
    and identifies the license in seat links. `issued_by` is `staff` or `cloud`.

    The `*_lc` columns and `licensee_email_domain` are folded copies (kit/search.py `fold`)
    the search box compares with, each behind its own index (docs/license-desk.md)."""

    __tablename__ = "desk_licenses"
    __table_args__ = (
        Index("ix_desk_licenses_business_id_mode_created_at", "business_id", "mode", "created_at"),
        Index("ix_desk_licenses_subscription_id", "subscription_id"),
        Index(
            "ix_desk_licenses_email_lc", "business_id", "mode", "licensee_email_lc", "created_at"
        ),
        Index(
            "ix_desk_licenses_email_domain",
            "business_id",
            "mode",
            "licensee_email_domain",
            "created_at",
        ),
        Index(
            "ix_desk_licenses_company_lc",
            "business_id",
            "mode",
            "licensee_company_lc",
            "created_at",
        ),
        Index("ix_desk_licenses_name_lc", "business_id", "mode", "licensee_name_lc", "created_at"),
        Index(
            "ix_desk_licenses_subscription",
            "business_id",
            "mode",
            "subscription_id",
            "created_at",
        ),
        Index(
            "ix_desk_licenses_subscription_external_id",
            "business_id",
            "mode",
            "subscription_external_id",
            "created_at",
        ),
        Index("ix_desk_licenses_trial", "business_id", "mode", "trial", "created_at"),
        Index("ix_desk_licenses_duplicated_from_id", "duplicated_from_id"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    business_id: Mapped[str] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    mode: Mapped[str] = mapped_column(String(4))
    license_type: Mapped[str] = mapped_column(String(20))
    issued_by: Mapped[str] = mapped_column(String(10))
    customer_id: Mapped[str | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), default=None
    )
    subscription_id: Mapped[str | None] = mapped_column(
        ForeignKey("subscriptions.id", ondelete="SET NULL"), default=None
    )
    subscription_external_id: Mapped[str | None] = mapped_column(String(100), default=None)
    subscription_name: Mapped[str | None] = mapped_column(String(200), default=None)
    licensee_name: Mapped[str] = mapped_column(String(300))
    licensee_company: Mapped[str] = mapped_column(String(300))
    licensee_email: Mapped[str] = mapped_column(String(320))
    licensee_name_lc: Mapped[str] = mapped_column(String(300), default="")
    licensee_company_lc: Mapped[str] = mapped_column(String(300), default="")
    licensee_email_lc: Mapped[str] = mapped_column(String(320), default="")
    licensee_email_domain: Mapped[str] = mapped_column(String(320), default="")
    trial: Mapped[bool] = mapped_column(Boolean, default=False)
    users_count: Mapped[int] = mapped_column(Integer)
    plan_code: Mapped[str] = mapped_column(String(64))
    plan_name: Mapped[str] = mapped_column(String(200))
    plan_features: Mapped[list[str]] = mapped_column(JSON, default=list)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    key_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    key_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    duplicated_from_id: Mapped[str | None] = mapped_column(String(40), default=None)
    cloud_instance_id: Mapped[str | None] = mapped_column(String(40), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LicenseNote(Base):
    """Why a license was issued, the ticket link and the seed's label (`Manually Generate
    License`, `Manually Generate Trial License`): kept and shown with the license."""

    __tablename__ = "license_notes"
    __table_args__ = (Index("ix_license_notes_license_id", "license_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    license_id: Mapped[str] = mapped_column(ForeignKey("desk_licenses.id", ondelete="CASCADE"))
    author: Mapped[str] = mapped_column(String(320))
    text: Mapped[str] = mapped_column(Text)
    ticket_link: Mapped[str | None] = mapped_column(String(2000), default=None)
    label: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ActivationCode(Base):
    """A subscription's 24-character activation code: found by HMAC, kept AES-GCM
    encrypted (bound to the row id) so it can be shown again. Regenerating revokes."""

    __tablename__ = "activation_codes"
    __table_args__ = (Index("ix_activation_codes_subscription_id", "subscription_id"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    business_id: Mapped[str] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    mode: Mapped[str] = mapped_column(String(4))
    subscription_id: Mapped[str] = mapped_column(ForeignKey("subscriptions.id", ondelete="CASCADE"))
    code_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    code_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class CloudInstance(Base):
    """A self-managed instance activated for a subscription, and the license it holds.

    `instance_id` is the instance's own id (what it sent; in its signed file too).
    `activation_code_id` is the code it was (last) activated with: while that code is
    revoked, its seat links are refused until it activates with the live one. Null only
    for an instance of before migration 0700 whose code could not be told (treated as
    revoked). `revoked_at`: staff revoked it, for good. An instance holds one of the
    subscription's slots (`max_instances`) while it is not revoked and its code is live."""

    __tablename__ = "cloud_instances"
    __table_args__ = (
        UniqueConstraint("subscription_id", "instance_id"),
        Index("ix_cloud_instances_subscription_activated", "subscription_id", "activated_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    business_id: Mapped[str] = mapped_column(ForeignKey("businesses.id", ondelete="CASCADE"))
    mode: Mapped[str] = mapped_column(String(4))
    subscription_id: Mapped[str] = mapped_column(ForeignKey("subscriptions.id", ondelete="CASCADE"))
    instance_id: Mapped[str] = mapped_column(String(200))
    license_id: Mapped[str] = mapped_column(ForeignKey("desk_licenses.id", ondelete="CASCADE"))
    activation_code_id: Mapped[str | None] = mapped_column(
        ForeignKey("activation_codes.id", ondelete="SET NULL"), default=None
    )
    activated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class SeatLink(Base):
    """One usage report of a cloud instance, with the overage computed at receipt."""

    __tablename__ = "seat_links"
    __table_args__ = (Index("ix_seat_links_subscription_id", "subscription_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    subscription_id: Mapped[str] = mapped_column(ForeignKey("subscriptions.id", ondelete="CASCADE"))
    cloud_instance_id: Mapped[str] = mapped_column(
        ForeignKey("cloud_instances.id", ondelete="CASCADE")
    )
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime)
    billable_users_count: Mapped[int] = mapped_column(Integer)
    max_historical_users_count: Mapped[int] = mapped_column(Integer)
    licensed_users_count: Mapped[int] = mapped_column(Integer)
    overage: Mapped[int] = mapped_column(Integer)
    license_id: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
