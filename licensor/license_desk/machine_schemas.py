"""The API's air-gapped activation (`POST /license_keys/offline_activations`)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from licensor.kit.schemas import Input
from licensor.license_desk.machine_file import TEXT_MAX, OfflineActivation


class OfflineActivationIn(Input):
    request: str = Field(
        min_length=1,
        max_length=TEXT_MAX,
        description="The activation request's text, as the machine wrote it "
        '(`python -m verifier.request`; docs/machines.md, "Air-gapped activation").',
    )


class OfflineActivationOut(BaseModel):
    license_file: str = Field(
        description="The license file of type `machine`, bound to the machine "
        "(docs/license-file-format.md): carry it back to the machine."
    )
    activation_request_id: str = Field(description="The redeemed request (`acr_…`).")
    request_expires_at: datetime
    license_key_id: str
    license_key_instance_id: str = Field(description="The seat the machine holds (`lki_…`).")
    instance_id: str | None = Field(description="The machine's own id, as it sent it.")
    fingerprint: str | None = Field(description="The fingerprint as matched and stored.")
    expires_at: datetime | None = Field(description="The file's expiry: the key's.")
    state: str = Field(description="The key's state: `valid` or `in_grace`.")
    code: str | None = Field(default=None, description="`LICENSE_KEY_IN_GRACE` in grace.")

    @classmethod
    def of(cls, done: OfflineActivation) -> OfflineActivationOut:
        seat = done.instance
        return cls(
            license_file=done.license_file,
            activation_request_id=done.activation_request_id,
            request_expires_at=done.request_expires_at,
            license_key_id=seat.license_key_id,
            license_key_instance_id=seat.id,
            instance_id=done.instance_id,
            fingerprint=seat.fingerprint,
            expires_at=done.expires_at,
            state=seat.state,
            code=seat.code,
        )
