"""One HTTP attempt of a webhook delivery: Standard Webhooks signatures, the SSRF check
on the resolved address, a 10 s timeout, and what came back.

The body is signed with every secret the endpoint signs with (the current one, and the
previous one for 24 hours after a rotation): `webhook-signature` holds one `v1,…` per
secret, separated by spaces, so a receiver with either secret verifies it. The request
goes to the address that passed the check (the `Host` header and, for https, the TLS
server name stay the URL's), so a second DNS answer cannot redirect it inside.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit, urlunsplit

import httpx
from standardwebhooks import Webhook

from licensor import __version__
from licensor.webhooks.urls import AddressRefused, IpAddress, resolve

RESPONSE_KEPT = 1000  # characters of the answer kept in the delivery log


@dataclass(frozen=True, slots=True)
class Outcome:
    status_code: int | None
    duration_ms: int
    error: str | None
    response_body: str | None
    refused: bool = False  # the address check refused it: no request was made

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def signature(secrets: list[str], msg_id: str, at: datetime, body: str) -> str:
    return " ".join(Webhook(secret).sign(msg_id, at, body) for secret in secrets)


def signed_headers(
    secrets: list[str], msg_id: str, at: datetime, body: str, custom: dict[str, str]
) -> dict[str, str]:
    return {
        **custom,
        "content-type": "application/json",
        "user-agent": f"Licensor-Webhooks/{__version__}",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature(secrets, msg_id, at, body),
    }


def _pinned(url: str, address: IpAddress) -> str:
    parts = urlsplit(url)
    host = f"[{address}]" if address.version == 6 else str(address)
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))


class Sender:
    """One HTTP client per worker (connections reused across attempts)."""

    def __init__(self, timeout: float, allow_private: bool) -> None:
        self.timeout = timeout
        self.allow_private = allow_private
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout), follow_redirects=False, trust_env=False
        )

    async def close(self) -> None:
        await self.client.aclose()

    async def send(self, url: str, headers: dict[str, str], body: str) -> Outcome:
        started = time.perf_counter()

        def elapsed() -> int:
            return int((time.perf_counter() - started) * 1000)

        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            address = await resolve(host, port, self.allow_private)
        except AddressRefused as exc:
            return Outcome(None, elapsed(), str(exc), None, refused=True)
        except OSError as exc:
            return Outcome(None, elapsed(), f"DNS: {exc}", None)
        request_headers = {**headers, "host": parts.netloc.rsplit("@", 1)[-1]}
        extensions = {"sni_hostname": host} if parts.scheme == "https" else {}
        try:
            response = await self.client.post(
                _pinned(url, address),
                content=body.encode(),
                headers=request_headers,
                extensions=extensions,
            )
        except httpx.TimeoutException:
            return Outcome(None, elapsed(), f"timeout after {self.timeout:g} s", None)
        except Exception as exc:  # connection, TLS, protocol: every failure is an attempt
            return Outcome(None, elapsed(), f"{type(exc).__name__}: {exc}", None)
        text = response.text[:RESPONSE_KEPT]
        error = None if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"
        return Outcome(response.status_code, elapsed(), error, text)
