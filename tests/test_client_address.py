"""Who the client is, for the rate limits: the socket peer, or X-Forwarded-For only
through trusted proxies; IPv6 counted per /64."""

from __future__ import annotations

from typing import Any

from licensor.kit.ratelimit import client_address, trusted_networks

PROXIES = trusted_networks("10.0.0.0/8, 192.0.2.10/32")


def scope(peer: str, forwarded: str | None = None) -> dict[str, Any]:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded is not None else []
    return {"client": (peer, 4242), "headers": headers}


def test_the_peer_when_no_proxy_is_trusted() -> None:
    assert client_address(scope("203.0.113.5", "198.51.100.1"), ()) == "203.0.113.5"


def test_forwarded_for_from_an_untrusted_peer_is_ignored() -> None:
    assert client_address(scope("203.0.113.5", "198.51.100.1"), PROXIES) == "203.0.113.5"


def test_the_nearest_untrusted_hop_behind_trusted_proxies() -> None:
    # client forged "1.2.3.4"; the edge proxy (10.1.1.1) saw 198.51.100.7
    chain = "1.2.3.4, 198.51.100.7, 10.1.1.1"
    assert client_address(scope("192.0.2.10", chain), PROXIES) == "198.51.100.7"


def test_a_trusted_peer_without_the_header_is_the_client() -> None:
    assert client_address(scope("10.2.2.2"), PROXIES) == "10.2.2.2"


def test_ipv6_is_counted_per_64_and_mapped_ipv4_as_ipv4() -> None:
    a = client_address(scope("2001:db8:1:2:aaaa::1"), ())
    b = client_address(scope("2001:db8:1:2:bbbb::9"), ())
    assert a == b == "2001:db8:1:2::/64"
    assert client_address(scope("2001:db8:1:3::1"), ()) != a
    assert client_address(scope("::ffff:203.0.113.9"), ()) == "203.0.113.9"
