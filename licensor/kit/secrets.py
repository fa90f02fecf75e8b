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
