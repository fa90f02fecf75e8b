"""Settings, read from `LICENSOR_*` environment variables (CLI flags set those)."""

from __future__ import annotations

import base64
import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SECRET_FILE = "secret.key"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LICENSOR_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    data_dir: Path = Path("data")
    database_url: str | None = None
    # A PostgreSQL streaming replica of `database_url` (docs/deployment.md): validate, the
    # check-in, and the API's lists and searches read from it; every write, and every read
    # that must see its own writes (activation, retrieve by id, the console), stays on the
    # primary. Unset: everything on the primary.
    database_read_url: str | None = None
    # 32 random bytes, base64 (urlsafe or standard); when unset, read or created in data_dir.
    secret_key: str | None = None
    # Serve validate/activate/deactivate from the thin ASGI path (the FastAPI routes stay for docs).
    fast_path: bool = True
    # For benchmarks only: `off` leaves activations and deactivations (the raw hot-path
    # stores) off the audit log, to measure what auditing them costs. Every other change
    # is recorded regardless. Never turn it off in production.
    audit: bool = True
    # How often the worker's sealer chains the audit events written unsealed since its
    # last pass (docs/events.md): the window in which an unsealed event is not yet covered
    # by the hash chain.
    audit_seal_seconds: float = Field(default=1.0, gt=0)
    db_pool_size: int = 10
    # The edge (docs/security-edge.md): limits every request meets before any routing.
    max_body_bytes: int = Field(default=1024 * 1024, ge=1)  # 413 from Content-Length or stream
    max_header_bytes: int = Field(default=16 * 1024, ge=1024)  # request line + headers: 431
    header_timeout_seconds: float = Field(default=10.0, gt=0)  # connect to end of headers: 408
    body_timeout_seconds: float = Field(default=30.0, gt=0)  # end of headers to end of body: 408
    keep_alive_seconds: int = Field(default=5, ge=1)  # an idle kept-alive connection is closed
    # Connections plus requests in flight, per process; beyond it 503. Lowered at start-up
    # to fit under the process's open-file limit (see kit/edge_protocol.py).
    max_concurrency: int = Field(default=1000, ge=1)
    # License email (docs/email-delivery.md). No smtp_host: jobs wait in the outbox.
    smtp_host: str | None = None
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_tls: Literal["none", "starttls", "tls"] = "none"
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_ca_file: str | None = None  # PEM bundle to verify the SMTP server's certificate
    smtp_timeout: float = Field(default=30.0, gt=0)
    # Without TLS the relay password would cross the network in clear: refused unless set.
    smtp_allow_plaintext_auth: bool = False
    mail_from: str = "licenses@localhost"
    mail_domain: str | None = None  # Message-ID domain when the business sets none
    # Comma list: a tenant's sender address at one of these (or under one) is used as From:
    # and envelope sender; any other goes in Reply-To and mail_from sends.
    mail_sender_domains: str = ""
    mail_worker: bool = True  # run the delivery worker inside `licensor serve`
    mail_max_attempts: int = Field(default=8, ge=1, le=100)
    mail_retry_base_seconds: float = Field(default=30.0, gt=0)
    mail_retry_max_seconds: float = Field(default=3600.0, gt=0)
    mail_lease_seconds: float = Field(default=120.0, ge=1)
    mail_poll_seconds: float = Field(default=2.0, gt=0)
    # Webhooks (docs/events.md): delivered by the same worker as email.
    webhooks_allow_private: bool = False  # allow loopback/private/link-local endpoint URLs
    webhooks_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    webhooks_max_attempts: int = Field(default=11, ge=1, le=100)  # the first + 10 retries
    webhooks_retry_base_seconds: float = Field(default=6.0, gt=0)  # times 4 each retry
    webhooks_retry_max_seconds: float = Field(default=6 * 3600.0, gt=0)
    webhooks_lease_seconds: float = Field(default=60.0, ge=1)
    webhooks_concurrency: int = Field(default=8, ge=1, le=100)  # attempts in flight per worker
    # An endpoint whose attempts have all failed for this long is disabled (with an event).
    webhooks_disable_after_seconds: float = Field(default=5 * 86400.0, gt=0)
    webhooks_secret_overlap_seconds: float = Field(default=86400.0, ge=0)  # after a rotation
    # Rate limits (docs/security.md). Limits are `limits` strings: "600/minute", "100/15 minutes".
    # Each request costs 1; a failed one (unknown key or code, wrong password) costs
    # rate_limit_failure_cost. Counters live in process memory unless redis_url is set.
    rate_limits: bool = True  # false turns every limit off
    redis_url: str | None = None  # e.g. redis://127.0.0.1:6379/0: counters shared by all
    redis_prefix: str = "licensor"  # namespace of the counters' keys in Redis
    rate_limit_sync_seconds: float = Field(default=0.05, gt=0, le=5)
    trusted_proxies: str = ""  # CIDRs, comma-separated, whose X-Forwarded-For is believed
    rate_limit_failure_cost: int = Field(default=10, ge=1, le=1000)
    rate_limit_license_address: str = "600/minute"
    rate_limit_license_key: str = "120/minute"
    rate_limit_checkin_address: str = "600/minute"
    rate_limit_checkin_key: str = "60/minute"
    rate_limit_cloud_address: str = "120/minute"
    rate_limit_cloud_code: str = "60/minute"
    rate_limit_login_address: str = "300/15 minutes"
    rate_limit_login_account: str = "100/15 minutes"
    rate_limit_jwks_address: str = "120/minute"
    rate_limit_jwks_business: str = "6000/minute"
    # Cloud seat links (docs/license-desk.md): a report timed further than this in the
    # future (the instance's clock ahead of ours) is refused.
    cloud_seat_link_clock_skew_seconds: int = Field(default=300, ge=0, le=86400)
    # Organisations and instance keys (docs/instance-keys.md).
    # How long an instance may run offline on a signed check-in answer (its validUntil).
    checkin_grace_seconds: int = Field(default=7 * 86400, ge=0, le=366 * 86400)
    # How long after its subscription's expiry a check-in still answers active, with the
    # state `in_grace` (docs/machines.md, the grace table); 0: none, as before.
    checkin_expiry_grace_seconds: int = Field(default=0, ge=0, le=366 * 86400)
    # The argon2id cost of members' and staff's passwords (kit/passwords.py): by default
    # RFC 9106's second recommended profile, 3 passes over 64 MiB in 4 lanes. A stored
    # hash keeps its own cost, so a change applies to passwords set from then on. Lower
    # it only where a machine cannot afford it (the test suite's servers do: it is CPU).
    password_time_cost: int = Field(default=3, ge=1, le=20)
    password_memory_kib: int = Field(default=64 * 1024, ge=64, le=4 * 1024 * 1024)
    password_parallelism: int = Field(default=4, ge=1, le=16)
    # A member's sign-in session lifetime.
    member_session_seconds: int = Field(default=12 * 3600, ge=60, le=90 * 86400)
    # Per process, a key's last-seen time is written at most this often unless the
    # reported version or instance id changes (keeps the check-in path off the write lock).
    checkin_record_interval_seconds: float = Field(default=1.0, ge=0, le=3600)
    # How long a process may keep a license key row for validate, or an instance key's row
    # for the check-in (kit/rowcache.py), at most: changes empty the caches at once
    # (PostgreSQL LISTEN/NOTIFY, SQLite data_version), so this only bounds a failure none
    # of them saw; 0: no row cache.
    validate_cache_seconds: float = Field(default=10.0, ge=0, le=3600)
    # How long a process keeps a decrypted signing key before looking for a newer one.
    signing_key_cache_seconds: float = Field(default=60.0, ge=0, le=86400)
    # A revocation list's `next_update` is this long after its `issued_at`: a verifier
    # refuses a list past it (docs/license-file-format.md, "Revocation list").
    revocation_list_seconds: int = Field(default=86400, ge=60, le=30 * 86400)
    # Idempotency keys (docs/events.md, "Idempotency"): how long a claim holds its key
    # without an answer (a process that died mid-request frees it after this), and how
    # long a key and its answer are kept (at least 24 hours, Stripe's promise).
    idempotency_lease_seconds: float = Field(default=60.0, ge=1, le=3600)
    idempotency_retention_hours: int = Field(default=24, ge=24, le=24 * 90)
    # The support console (docs/console.md): a staff session ends this long after sign-in,
    # or after this long without a request, whichever comes first.
    console_session_seconds: int = Field(default=12 * 3600, ge=60, le=30 * 86400)
    console_idle_seconds: int = Field(default=3600, ge=60, le=30 * 86400)
    # Single sign-on by OpenID Connect (the issuer's discovery document names the rest).
    oidc_issuer: str | None = None  # e.g. https://example.okta.com
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None
    # Off: SSO opens only existing staff accounts. On: an unknown verified email gets a
    # read_only account in oidc_auto_provision_business_id at its first sign-in.
    oidc_auto_provision: bool = False
    oidc_auto_provision_business_id: str | None = None
    # The redirect URI registered at the identity provider; by default the request's
    # origin + /console/sso/callback (set it behind a proxy that rewrites the host).
    oidc_redirect_url: str | None = None

    @property
    def oidc_configured(self) -> bool:
        return bool(self.oidc_issuer and self.oidc_client_id)

    @property
    def smtp_configured(self) -> bool:
        return bool(self.smtp_host)

    @property
    def sender_domains(self) -> list[str]:
        return [d.strip() for d in self.mail_sender_domains.split(",") if d.strip()]

    @property
    def smtp_auth_refused(self) -> bool:
        """Credentials are set but would be sent without TLS, and the operator did not opt in."""
        has_auth = bool(self.smtp_username or self.smtp_password)
        return has_auth and self.smtp_tls == "none" and not self.smtp_allow_plaintext_auth

    @model_validator(mode="after")
    def _password_memory_fits_its_lanes(self) -> Settings:
        if self.password_memory_kib < 8 * self.password_parallelism:  # argon2's own rule
            raise ValueError(
                "LICENSOR_PASSWORD_MEMORY_KIB must be at least 8 KiB per lane "
                "(LICENSOR_PASSWORD_PARALLELISM)"
            )
        return self

    @model_validator(mode="after")
    def _replica_is_postgres(self) -> Settings:
        if self.database_read_url is not None and not (
            self.database_read_url.startswith("postgresql")
            and self.resolved_database_url.startswith("postgresql")
        ):
            raise ValueError(
                "LICENSOR_DATABASE_READ_URL is a PostgreSQL replica of a PostgreSQL "
                "LICENSOR_DATABASE_URL"
            )
        return self

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'licensor.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()


def _decode_secret(text: str) -> bytes:
    raw = text.strip()
    try:
        value = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
    except ValueError as exc:
        raise ValueError("LICENSOR_SECRET_KEY must be base64") from exc
    if len(value) < 32:
        raise ValueError("the server secret must hold at least 32 bytes")
    return value


def load_server_secret(settings: Settings) -> bytes:
    """The master secret: from the environment, else from `data_dir/secret.key` (created 0600)."""
    if settings.secret_key:
        return _decode_secret(settings.secret_key)
    path = settings.data_dir / SECRET_FILE
    if path.exists():
        if path.stat().st_mode & 0o077:  # an older install left it readable by others
            path.chmod(0o600)
        return _decode_secret(path.read_text())
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    secret = os.urandom(32)
    tmp = path.with_name(f".{SECRET_FILE}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(base64.urlsafe_b64encode(secret).decode() + "\n")
    try:
        os.link(tmp, path)  # atomic: exactly one process creates the file, complete
    except FileExistsError:  # another worker won the race: use its secret
        return _decode_secret(path.read_text())
    finally:
        tmp.unlink()
    return secret
