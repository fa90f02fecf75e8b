"""Every verification failure is a subclass of `VerificationError`."""

from __future__ import annotations


class VerificationError(Exception):
    """Base of every verification failure."""


class MalformedFile(VerificationError):
    """The text is not a license file in Licensor's exact format."""


class UnsupportedAlgorithm(VerificationError):
    """The file names an algorithm or version this verifier does not know."""


class UnknownKey(VerificationError):
    """No public key with the file's key id was given."""


class BadSignature(VerificationError):
    """The signature does not match the file's content under the named key."""


class LicenseKeyRequired(VerificationError):
    """The file is encrypted and no license key was given."""


class DecryptionFailed(VerificationError):
    """The license key given does not decrypt the file."""


class InvalidPayload(VerificationError):
    """The signed payload lacks a field or holds a value of the wrong type."""


class NotYetValid(VerificationError):
    """The license starts in the future."""


class Expired(VerificationError):
    """The license expired, and the grace period is over too."""


class Revoked(VerificationError):
    """The revocation list names the key that signed, or the license (or license key)."""


class PinMismatch(VerificationError):
    """Genuine, but not for this client: the base of the pinning errors below."""


class WrongBusiness(PinMismatch):
    """Issued by another business than the one the client expects."""


class WrongMode(PinMismatch):
    """Of the other mode (a test file or answer where live is expected, by default)."""


class WrongLicenseType(PinMismatch):
    """A license type the client does not accept."""


class WrongInstance(PinMismatch):
    """Bound to another instance id or machine fingerprint."""


class WrongLicenseKey(PinMismatch):
    """A signed answer about another license key than the client's."""


class MalformedAnswer(VerificationError):
    """Not a signed answer as Licensor writes it (no signed statement, a missing field)."""


class NonceMismatch(VerificationError):
    """A signed answer to another request: its nonce is not the one the client sent."""


class StaleAnswer(VerificationError):
    """A signed answer older than `max_age` (or dated too far in the future)."""


class MalformedRevocationList(VerificationError):
    """Not a revocation list as Licensor writes it."""


class StaleRevocationList(VerificationError):
    """A revocation list past its `next_update`, or older than the one the client holds."""
