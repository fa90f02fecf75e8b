"""Signing keys as the API and the CLI show them."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from licensor.kit.schemas import Output

State = Literal["active", "retired", "revoked"]


class SigningKeyOut(Output):
    kid: str = Field(description="The key id (`sig_…`), the `kid` of everything it signed")
    algorithm: str = Field(description="`Ed25519`")
    state: State = Field(
        description="`active`: signs; `retired`: signs nothing, still verifies (in the JWKS); "
        "`revoked`: gone from the JWKS, listed in the revocation list"
    )
    created_at: datetime
    retired_at: datetime | None
    revoked_at: datetime | None
    public_key: str = Field(description="The raw 32-byte public key, base64url (the JWK's `x`)")


class SigningKeyList(Output):
    items: list[SigningKeyOut] = Field(description="The active key first, then newest first")


class SigningKeyChange(SigningKeyOut):
    replaced_by: str | None = Field(
        description="When the key was the active one: the kid of the new active key made in "
        "the same transaction"
    )
