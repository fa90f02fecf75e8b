"""Instance keys: JSON in camelCase, exactly as the Storno "Create License Key" API."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StringConstraints

from licensor.kit.camel import CamelIn, CamelOut, Timestamp
from licensor.kit.schemas import Nonce

InstanceName = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)
]


class KeyCreate(CamelIn):
    instance_name: InstanceName | None = Field(
        default=None, description='A label for the instance, e.g. "Production"'
    )


class KeyCreated(CamelOut):
    id: str = Field(description="UUIDv7 of the key")
    license_key: str = Field(description="64 hex characters. Shown once: only a hash is kept")
    instance_name: str | None
    active: bool
    created_at: Timestamp


class KeyOut(CamelOut):
    id: str
    masked_key: str = Field(description="The first and last four characters only")
    instance_name: str | None
    active: bool
    created_at: Timestamp
    revoked_at: Timestamp | None
    last_seen_at: Timestamp | None
    last_version: str | None
    last_instance_id: str | None


class KeyList(CamelOut):
    items: list[KeyOut]


class CheckinIn(CamelIn):
    """What a self-hosted instance reports when it checks in (all optional)."""

    instance_id: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    version: Annotated[str, StringConstraints(min_length=1, max_length=100)] | None = None
    nonce: Nonce | None = Field(
        default=None,
        description="16-128 characters (A-Z a-z 0-9 . _ ~ + / = -), new for each check-in: "
        "the signed answer then echoes it and a digest of the key (docs/instance-keys.md)",
    )
