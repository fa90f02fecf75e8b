"""What a client pins: the issuing business, the mode, the license types it accepts, and
the instance id or machine fingerprint a bound file must carry (docs/license-file-format.md,
"Pinning")."""

from __future__ import annotations

from collections.abc import Iterable

from .errors import WrongBusiness, WrongInstance, WrongLicenseType, WrongMode
from .payload import LicensePayload

MODES = ("test", "live")


def check_mode_argument(mode: str | None) -> None:
    if mode is not None and mode not in MODES:
        raise ValueError(f"mode must be 'test', 'live' or None (any), not {mode!r}")


def check_issuer(
    found_business: str,
    found_mode: str,
    business_id: str | None,
    mode: str | None,
    what: str,
) -> None:
    if business_id is not None and found_business != business_id:
        raise WrongBusiness(f"{what} is of business {found_business!r}, not {business_id!r}")
    if mode is not None and found_mode != mode:
        raise WrongMode(
            f"{what} is of {found_mode} mode and this client accepts {mode} mode "
            f"(pass mode={found_mode!r} to accept it)"
        )


def check_license_pins(
    payload: LicensePayload,
    *,
    business_id: str | None,
    mode: str | None,
    license_types: Iterable[str] | str | None,
    instance_id: str | None,
    fingerprint: str | None,
) -> None:
    check_issuer(payload.business_id, payload.mode, business_id, mode, "the license")
    if license_types is not None:
        accepted = {license_types} if isinstance(license_types, str) else set(license_types)
        if payload.type not in accepted:
            raise WrongLicenseType(
                f"the license is of type {payload.type!r}; accepted: {', '.join(sorted(accepted))}"
            )
    # A file carries `instance_id` / `fingerprint` only when it is bound; an unbound file
    # passes (accept only the license types that are always bound to require a binding).
    if instance_id is not None and payload.instance_id not in (None, instance_id):
        raise WrongInstance(f"the license is bound to instance {payload.instance_id!r}")
    if fingerprint is not None and payload.fingerprint not in (None, fingerprint):
        raise WrongInstance(f"the license is bound to machine {payload.fingerprint!r}")
