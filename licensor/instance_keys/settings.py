"""Settings of organisations and instance keys, from `LICENSOR_*` environment variables."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class InstanceKeySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LICENSOR_", extra="ignore")

    # How long an instance may run offline on a signed check-in answer (its validUntil).
    checkin_grace_seconds: int = Field(default=7 * 86400, ge=0, le=366 * 86400)
    # A member's sign-in session lifetime.
    member_session_seconds: int = Field(default=12 * 3600, ge=60, le=90 * 86400)
    # Per process, a key's last-seen time is written at most this often unless the
    # reported version or instance id changes (keeps the check-in path off the write lock).
    checkin_record_interval_seconds: float = Field(default=1.0, ge=0, le=3600)
    # How long a process keeps a decrypted signing key before looking for a newer one.
    signing_key_cache_seconds: float = Field(default=60.0, ge=0, le=86400)


@lru_cache
def instance_key_settings() -> InstanceKeySettings:
    return InstanceKeySettings()
