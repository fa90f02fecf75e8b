from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from licensor.kit.schemas import Output


class AuditEventOut(Output):
    id: str = Field(description="`aud_…`")
    business_id: str
    mode: str
    seq: int | None = Field(
        description="Position in the chain of this business and mode, from 1; null until "
        "the sealer chains the event (within about a second)"
    )
    created_at: datetime
    actor: str = Field(
        description="`api_key:key_…`, `staff:<id>`, `member:mem_…`, `cli:<OS user>`, "
        "`system:<what>` or `anonymous`"
    )
    action: str = Field(description="What happened, e.g. `license_key.updated`")
    target_type: str
    target_id: str
    changes: dict[str, Any] = Field(
        description="`{field: {old, new}}`; secrets (keys, codes, tokens) masked"
    )
    note: str | None
    request_id: str | None
    client_address: str | None
    prev_hash: str | None = Field(
        description="SHA-256 (hex) of the event before; 64 zeros for #1; null until sealed"
    )
    hash: str | None = Field(
        description="SHA-256 (hex) over this event's canonical encoding; null until sealed"
    )
