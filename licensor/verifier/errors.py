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
