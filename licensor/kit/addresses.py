"""Email domains in one canonical form, so that comparing them cannot be fooled.

`dev@Staff.Test.`, `dev@staff.test` and the same in fullwidth letters are one mailbox to a mail
server; `normalise_domain` gives all three as `staff.test`: case folded, the trailing dot
of a fully-qualified name dropped, Unicode mapped and encoded as IDNA (UTS #46, punycode
`xn--` labels). IP literals (`[127.0.0.1]`, `10.0.0.1`) are no domain at all and
invisible characters (zero-width, bidi controls, soft hyphen: Unicode category Cf) only
hide what an address really is: both are refused. Every comparison of an address with a
list of domains (staff, resellers, allowed senders) goes through here.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Iterable

import idna

# Characters a reader cannot see but a mail system may keep or drop: format characters
# (Cf: zero-width space/joiner, bidi overrides and isolates, soft hyphen, BOM, tags), the
# Hangul fillers, the braille blank, the combining grapheme joiner and the variation
# selectors, all of which render as nothing.
_INVISIBLE_EXTRA = frozenset("\u115f\u1160\u3164\uffa0\u2800\u034f")


def _is_invisible(c: str) -> bool:
    code = ord(c)
    return (
        unicodedata.category(c) == "Cf"
        or c in _INVISIBLE_EXTRA
        or c.isspace()
        or 0xFE00 <= code <= 0xFE0F
        or 0xE0100 <= code <= 0xE01EF
        or 0x180B <= code <= 0x180F
    )


_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


class AddressError(ValueError):
    """Why an address or domain was refused; `code` is the API error code."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


INVALID_DOMAIN = "INVALID_EMAIL_DOMAIN"
IP_LITERAL = "EMAIL_DOMAIN_IS_IP_ADDRESS"
INVISIBLE = "EMAIL_HAS_INVISIBLE_CHARACTERS"


def has_invisible(value: str) -> bool:
    return any(_is_invisible(c) for c in value)


def _is_ip(value: str) -> bool:
    text = value[1:-1] if value.startswith("[") and value.endswith("]") else value
    if text.lower().startswith("ipv6:"):
        text = text[5:]
    try:
        ipaddress.ip_address(text)
    except ValueError:
        # 127.1, 0x7f.0.0.1, 2130706433: what inet_aton would take for an address
        return bool(re.fullmatch(r"(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]+|[0-9]+)){0,3}", text, re.I))
    return True


def normalise_domain(value: str) -> str:
    """The canonical ASCII form of a domain; `AddressError` for anything else."""
    text = value.strip()
    if has_invisible(text):
        raise AddressError("the domain contains invisible characters", INVISIBLE)
    if text.startswith("[") or _is_ip(text.rstrip(".")):
        raise AddressError("an IP address is not accepted as an email domain", IP_LITERAL)
    text = text.rstrip(".") if text.endswith(".") and not text.endswith("..") else text
    try:
        ascii_form = idna.encode(text, uts46=True, transitional=False).decode("ascii")
    except (idna.IDNAError, UnicodeError) as exc:
        raise AddressError(f"not a valid domain name: {exc}", INVALID_DOMAIN) from exc
    ascii_form = ascii_form.lower()
    labels = ascii_form.split(".")
    if (
        len(ascii_form) > 253
        or len(labels) < 2
        or not all(_LABEL.match(label) for label in labels)
        or labels[-1].isdigit()
    ):
        raise AddressError("not a valid domain name", INVALID_DOMAIN)
    return ascii_form


def split_address(address: str) -> tuple[str, str]:
    """(local part, canonical domain) of an address; `AddressError` when refused."""
    text = unicodedata.normalize("NFC", address.strip())
    if has_invisible(text):
        raise AddressError("the address contains invisible characters", INVISIBLE)
    local, at, domain = text.rpartition("@")
    if not at or not local or not domain:
        raise AddressError("not an email address", INVALID_DOMAIN)
    return local, normalise_domain(domain)


def canonical_address(address: str) -> str:
    """`local@domain` with the domain canonical and the local part lower-cased."""
    local, domain = split_address(address)
    return f"{local.lower()}@{domain}"


def domain_in(domain: str, listed: Iterable[str]) -> bool:
    """`domain` (canonical) is one of `listed` or under one of them."""
    for entry in listed:
        try:
            item = normalise_domain(entry)
        except AddressError:
            continue
        if domain == item or domain.endswith("." + item):
            return True
    return False
