"""Settings, read from `LICENSOR_*` environment variables (CLI flags set those)."""

from __future__ import annotations

import base64
import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

SECRET_FILE = "secret.key"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LICENSOR_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    data_dir: Path = Path("data")
    database_url: str | None = None
    # 32 random bytes, base64 (urlsafe or standard); when unset, read or created in data_dir.
    secret_key: str | None = None
    # Serve validate/activate/deactivate from the thin ASGI path (the FastAPI routes stay for docs).
    fast_path: bool = True
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
    mail_from: str = "licenses@localhost"
    mail_domain: str | None = None  # Message-ID domain when the business sets none
    mail_worker: bool = True  # run the delivery worker inside `licensor serve`
    mail_max_attempts: int = Field(default=8, ge=1, le=100)
    mail_retry_base_seconds: float = Field(default=30.0, gt=0)
    mail_retry_max_seconds: float = Field(default=3600.0, gt=0)
    mail_lease_seconds: float = Field(default=120.0, ge=1)
    mail_poll_seconds: float = Field(default=2.0, gt=0)

    @property
    def smtp_configured(self) -> bool:
        return bool(self.smtp_host)

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
        return _decode_secret(path.read_text())
    settings.data_dir.mkdir(parents=True, exist_ok=True)
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
