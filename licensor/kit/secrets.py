"""Keyed hashing and authenticated encryption of secrets under the server secret.

Every key or token is looked up by HMAC-SHA256 (never stored in clear); a secret the
API must show again is also kept encrypted with AES-256-GCM, bound to its row id.
Both sub-keys are derived from the one server secret with HKDF, each for one purpose.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets as _secrets
from collections.abc import Callable, Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

NONCE_BYTES = 12


def _derive(master: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(master)


class Vault:
    def __init__(self, master_secret: bytes) -> None:
        self._hmac_key = _derive(master_secret, b"licensor/lookup-hmac/v1")
        self._aead = AESGCM(_derive(master_secret, b"licensor/aes-256-gcm/v1"))
        # One keyed HMAC per purpose with its prefix already absorbed: a lookup copies it
        # (a C-level context copy) instead of re-keying, which costs more than the hash.
        self._lookup: dict[str, hmac.HMAC] = {}

    def lookup_hash(self, secret: str, purpose: str) -> bytes:
        """HMAC-SHA256 of `purpose NUL secret`, so a token never matches a key."""
        base = self._lookup.get(purpose)
        if base is None:
            base = hmac.new(self._hmac_key, purpose.encode() + b"\x00", hashlib.sha256)
            self._lookup[purpose] = base
        mac = base.copy()
        mac.update(secret.encode())
        return mac.digest()

    def lookup_hasher(self, purpose: str) -> Callable[[str], bytes]:
        """`lookup_hash(secret, purpose)` as a function of the secret, for a tight loop over
        many (an import): the same HMAC-SHA256 (RFC 2104) computed from the key's inner and
        outer SHA-256 states, taken once, so each secret costs two state copies and two
        short hashes, about half of what copying a keyed `hmac` object costs."""
        block = self._hmac_key.ljust(64, b"\x00")  # SHA-256's block; the key is 32 bytes
        inner = hashlib.sha256(bytes(b ^ 0x36 for b in block) + purpose.encode() + b"\x00")
        outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))

        def digest(secret: str) -> bytes:
            mac = inner.copy()
            mac.update(secret.encode())
            out = outer.copy()
            out.update(mac.digest())
            return out.digest()

        return digest

    def encrypt_many(self, plaintexts: Sequence[str], bound_to: Sequence[str]) -> list[bytes]:
        """`encrypt(plaintexts[i], bound_to[i])` for each i, the nonces drawn in one call."""
        nonces = os.urandom(NONCE_BYTES * len(plaintexts))
        seal = self._aead.encrypt
        out: list[bytes] = []
        for i, (text, row) in enumerate(zip(plaintexts, bound_to, strict=True)):
            nonce = nonces[i * NONCE_BYTES : (i + 1) * NONCE_BYTES]
            out.append(nonce + seal(nonce, text.encode(), row.encode()))
        return out

    def encrypt(self, plaintext: str, bound_to: str) -> bytes:
        return self.encrypt_bytes(plaintext.encode(), bound_to)

    def decrypt(self, blob: bytes, bound_to: str) -> str:
        return self.decrypt_bytes(blob, bound_to).decode()

    def encrypt_bytes(self, plaintext: bytes, bound_to: str) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext, bound_to.encode())

    def decrypt_bytes(self, blob: bytes, bound_to: str) -> bytes:
        try:
            return self._aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], bound_to.encode())
        except InvalidTag as exc:
            raise ValueError("ciphertext does not match this server secret or row") from exc


def constant_time_equal(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(a, b)


def random_token(nbytes: int = 32) -> str:
    return _secrets.token_urlsafe(nbytes)
