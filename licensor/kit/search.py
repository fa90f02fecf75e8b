"""The one search box's words, normalised the same way for every list that searches.

A search term is folded (trimmed, lower-cased, inner whitespace collapsed) and compared
with the folded copy a table keeps beside the original (`licensee_email_lc`, …), so that
each database answers from a plain B-tree index. `email` is a whole address
(`ann@acme.test`) or a domain (`acme.test` or `@acme.test`)."""

from __future__ import annotations

import re
from dataclasses import dataclass

_SPACES = re.compile(r"\s+")
MAX_TERM = 320


def fold(text: str) -> str:
    """Trimmed, lower-cased, inner whitespace collapsed to one space."""
    return _SPACES.sub(" ", text.strip()).lower()


def email_domain(email: str) -> str:
    """The folded domain of an address (`""` when it has none)."""
    _, at, domain = fold(email).rpartition("@")
    return domain if at else ""


@dataclass(frozen=True)
class EmailTerm:
    """An `email` filter: a whole address, or a domain when `address` is None."""

    address: str | None
    domain: str


def email_term(text: str) -> EmailTerm | None:
    folded = fold(text)
    if not folded:
        return None
    if "@" in folded.lstrip("@"):
        return EmailTerm(folded, email_domain(folded))
    return EmailTerm(None, folded.lstrip("@"))


def text_term(text: str | None) -> str | None:
    """A folded term, or None for a blank one (a blank box searches nothing)."""
    if text is None:
        return None
    folded = fold(text)
    return folded or None


def raw_term(text: str | None) -> str | None:
    """An exact term (ids, keys): only trimmed."""
    if text is None:
        return None
    return text.strip() or None
