"""Where a webhook may be sent (SSRF): http(s) URLs whose host is not a loopback,
private, link-local or otherwise non-public address, unless the operator allows them
(`LICENSOR_WEBHOOKS_ALLOW_PRIVATE=true`).

The URL is checked when it is set (an address written in it) and again at every
delivery on the addresses its host resolves to (a name that points inside), resolved
with the event loop's `getaddrinfo` (in a thread: the loop never blocks). The sender
then connects to the address that was checked, not to a second lookup's answer.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from licensor.kit.errors import Unprocessable

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class AddressRefused(Exception):
    """The endpoint's host is (or resolves to) an address webhooks may not reach."""


def is_public(address: IpAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


def literal_address(host: str) -> IpAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def check_url(url: str, allow_private: bool) -> str:
    """The URL's text: http(s), a host, no credentials; an address in it must be public."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise Unprocessable(f"url is not a valid URL: {exc}", code="WEBHOOK_URL_INVALID") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Unprocessable(
            "url must be an http or https URL with a host", code="WEBHOOK_URL_INVALID"
        )
    if parts.username is not None or parts.password is not None:
        raise Unprocessable("url must not carry credentials", code="WEBHOOK_URL_INVALID")
    if port == 0:
        raise Unprocessable("url has port 0", code="WEBHOOK_URL_INVALID")
    host = parts.hostname
    address = literal_address(host)
    if not allow_private:
        if address is not None and not is_public(address):
            raise Unprocessable(
                f"url points to a non-public address ({address}); webhooks go to public "
                "addresses unless LICENSOR_WEBHOOKS_ALLOW_PRIVATE=true",
                code="WEBHOOK_URL_NOT_ALLOWED",
            )
        if address is None and (host == "localhost" or host.endswith(".localhost")):
            raise Unprocessable(
                "url points to localhost; webhooks go to public addresses unless "
                "LICENSOR_WEBHOOKS_ALLOW_PRIVATE=true",
                code="WEBHOOK_URL_NOT_ALLOWED",
            )
    return url


async def resolve(host: str, port: int, allow_private: bool) -> IpAddress:
    """The address to connect to: the first the host resolves to, every one of which
    must be public (unless allowed). Raises AddressRefused or OSError."""
    address = literal_address(host)
    if address is not None:
        found = [address]
    else:
        loop = asyncio.get_running_loop()
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        found = [ipaddress.ip_address(info[4][0]) for info in infos]
        if not found:
            raise OSError(f"{host} has no address")
    if not allow_private:
        refused = [a for a in found if not is_public(a)]
        if refused:
            raise AddressRefused(
                f"{host} resolves to a non-public address ({refused[0]}): refused "
                "(LICENSOR_WEBHOOKS_ALLOW_PRIVATE=false)"
            )
    return found[0]
