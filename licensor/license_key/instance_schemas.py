from __future__ import annotations

from datetime import datetime

from licensor.kit.schemas import Input, Name, Output


class InstanceUpdate(Input):
    name: Name


class InstanceOut(Output):
    id: str
    business_id: str
    created_at: datetime
    license_key_id: str
    name: str
    fingerprint: str | None = None  # Licensor's own (docs/machines.md), as matched
    last_heartbeat_at: datetime | None = None  # the activation, then its latest heartbeat
