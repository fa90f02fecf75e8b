"""Air-gapped activation: the activation request a machine with no network makes
(docs/license-file-format.md, "Activation requests"; docs/machines.md, "Air-gapped
activation").

The machine writes a request file; someone carries it to the vendor's support, who
uploads it (`POST /license_keys/offline_activations`, `licensor license-keys
activate-offline`, the console) and carries back a license file bound to that machine
(type `machine`), which `verify_license_file(..., fingerprint=…)` accepts there only.

Standard library only, so a client can run it from the package or from the copied folder:

    python -m licensor.verifier.request --license-key K --product-id P --fingerprint F -o req.txt
    python -m verifier.request …            (the folder copied into the client's code)

The request is not signed (the machine holds no key of its own); it carries the license
key in clear, so treat the file like the key. The server takes each request once
(`request_id`) and only while it is fresh.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import re
import secrets
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from .errors import VerificationError

REQUEST_BEGIN = "-----BEGIN LICENSOR ACTIVATION REQUEST-----"
REQUEST_END = "-----END LICENSOR ACTIVATION REQUEST-----"
REQUEST_VERSION = 1
REQUEST_TYPE = "activation_request"
REQUEST_WIDTH = 64
REQUEST_LIFETIME = timedelta(days=7)  # the default `expires_at`, and the server's window
REQUEST_KEYS = frozenset(
    {
        "v",
        "type",
        "request_id",
        "created_at",
        "expires_at",
        "product_id",
        "license_key",
        "fingerprint",
        "instance_id",
        "name",
    }
)
OPTIONAL_KEYS = frozenset({"fingerprint", "instance_id", "name"})
# The server's `Fingerprint`: 1-200 of A-Z a-z 0-9 . _ : + / = -, from a letter or digit.
FINGERPRINT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:+/=-]{0,199}")
REQUEST_ID = re.compile(r"[A-Za-z0-9_-]{22,128}")
ID_MAX = 64
KEY_MAX = 512
NAME_MAX = 200


class MalformedRequest(VerificationError, ValueError):
    """Not an activation request as `make_activation_request` writes it."""


@dataclass(frozen=True)
class ActivationRequest:
    request_id: str
    created_at: datetime
    expires_at: datetime
    product_id: str
    license_key: str
    fingerprint: str | None
    instance_id: str | None
    name: str | None


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _printable(text: str, limit: int) -> bool:
    return 0 < len(text) <= limit and text.isprintable() and text == text.strip()


def _check(request: ActivationRequest) -> None:
    if not REQUEST_ID.fullmatch(request.request_id):
        raise MalformedRequest("request_id must be 22-128 characters of base64url")
    if not _printable(request.product_id, ID_MAX):
        raise MalformedRequest("product_id must be 1-64 printable characters")
    if not _printable(request.license_key, KEY_MAX):
        raise MalformedRequest("license_key must be 1-512 printable characters")
    if request.fingerprint is None and request.instance_id is None:
        raise MalformedRequest("a request names the machine: fingerprint and/or instance_id")
    if request.fingerprint is not None and not FINGERPRINT.fullmatch(request.fingerprint):
        raise MalformedRequest(
            "fingerprint must be 1-200 of A-Z a-z 0-9 . _ : + / = -, from a letter or digit"
        )
    if request.instance_id is not None and not _printable(request.instance_id, ID_MAX):
        raise MalformedRequest("instance_id must be 1-64 printable characters")
    if request.name is not None and not _printable(request.name, NAME_MAX):
        raise MalformedRequest("name must be 1-200 printable characters")
    if request.expires_at <= request.created_at:
        raise MalformedRequest("expires_at must be after created_at")


def make_activation_request(
    license_key: str,
    product_id: str,
    *,
    fingerprint: str | None = None,
    instance_id: str | None = None,
    name: str | None = None,
    now: datetime | None = None,
    valid_for: timedelta = REQUEST_LIFETIME,
) -> str:
    """The text of a new request (a fresh random `request_id`) for this machine: its
    `fingerprint` and/or its own `instance_id`, and an optional `name` for the seat.
    ValueError (a `MalformedRequest`) for a value the server would refuse."""
    moment = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    request = ActivationRequest(
        request_id=secrets.token_urlsafe(24),
        created_at=moment,
        expires_at=moment + valid_for,
        product_id=product_id,
        license_key=license_key,
        fingerprint=fingerprint,
        instance_id=instance_id,
        name=name,
    )
    _check(request)
    body: dict[str, Any] = {
        "v": REQUEST_VERSION,
        "type": REQUEST_TYPE,
        "request_id": request.request_id,
        "created_at": request.created_at.isoformat(),
        "expires_at": request.expires_at.isoformat(),
        "product_id": product_id,
        "license_key": license_key,
    }
    for field in ("fingerprint", "instance_id", "name"):
        value = getattr(request, field)
        if value is not None:
            body[field] = value
    text = base64.b64encode(_canonical(body)).decode()
    lines = [text[i : i + REQUEST_WIDTH] for i in range(0, len(text), REQUEST_WIDTH)]
    return "\n".join([REQUEST_BEGIN, *lines, REQUEST_END]) + "\n"


def _time(body: dict[str, Any], name: str) -> datetime:
    value = body.get(name)
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise MalformedRequest(f"{name} must be an ISO 8601 time with its UTC offset")
    try:  # the server adds its window to it: a time at the calendar's edge is no request
        moment = moment.astimezone(UTC)
        _ = moment + 2 * REQUEST_LIFETIME
    except OverflowError as exc:
        raise MalformedRequest(f"{name} is out of range") from exc
    return moment


def _text(body: dict[str, Any], name: str) -> Any:
    value = body.get(name)
    if value is None and name in OPTIONAL_KEYS:
        return None
    if not isinstance(value, str):
        raise MalformedRequest(f"{name} must be a string")
    return value


def parse_activation_request(text: str | bytes) -> ActivationRequest:
    """The request in `text`, after the format checks (armour, base64, JSON, fields);
    `MalformedRequest` when it is not one. Whether it is fresh is the server's to judge.
    Surrounding whitespace and CRLF line ends are accepted (the file travels by hand)."""
    if isinstance(text, bytes):
        try:
            text = text.decode("ascii")
        except UnicodeDecodeError as exc:
            raise MalformedRequest("an activation request is ASCII text") from exc
    lines = [line.strip() for line in text.strip().splitlines()]
    if len(lines) < 3 or lines[0] != REQUEST_BEGIN or lines[-1] != REQUEST_END:
        raise MalformedRequest(f"a request starts with {REQUEST_BEGIN} and ends with {REQUEST_END}")
    try:
        raw = base64.b64decode("".join(lines[1:-1]), validate=True)
        body = json.loads(raw.decode())
    except (binascii.Error, ValueError) as exc:
        raise MalformedRequest("the body is not base64 of JSON") from exc
    if not isinstance(body, dict) or not set(body) <= REQUEST_KEYS:
        raise MalformedRequest(f"a request holds only {', '.join(sorted(REQUEST_KEYS))}")
    version = body.get("v")
    if type(version) is not int or version != REQUEST_VERSION or body.get("type") != REQUEST_TYPE:
        raise MalformedRequest(f"not a version {REQUEST_VERSION} {REQUEST_TYPE}")
    request = ActivationRequest(
        request_id=_text(body, "request_id"),
        created_at=_time(body, "created_at"),
        expires_at=_time(body, "expires_at"),
        product_id=_text(body, "product_id"),
        license_key=_text(body, "license_key"),
        fingerprint=_text(body, "fingerprint"),
        instance_id=_text(body, "instance_id"),
        name=_text(body, "name"),
    )
    _check(request)
    return request


def read_fingerprint(path: str | Path) -> str:
    """The fingerprint the client software computed and saved (the first line of the
    file, without surrounding whitespace), checked as the server checks it. How to
    compute one is the vendor's choice (docs/machines.md suggests one)."""
    lines = Path(path).read_text(encoding="ascii").strip().splitlines()
    value = lines[0].strip() if lines else ""
    if not FINGERPRINT.fullmatch(value):
        raise MalformedRequest(
            "a fingerprint is 1-200 of A-Z a-z 0-9 . _ : + / = -, from a letter or digit"
        )
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m verifier.request",
        description="Write an activation request for this machine, for the vendor's "
        "support to turn into a license file bound to it. The request holds the license "
        "key: keep it like the key.",
    )
    parser.add_argument("--license-key", required=True, help="The license key to activate.")
    parser.add_argument("--product-id", required=True, help="The product (pdt_…).")
    machine = parser.add_mutually_exclusive_group()
    machine.add_argument("--fingerprint", help="This machine's fingerprint.")
    machine.add_argument("--fingerprint-file", help="A file holding it (its first line).")
    parser.add_argument("--instance-id", help="This installation's own id.")
    parser.add_argument("--name", help="A name for the seat (e.g. the host name).")
    parser.add_argument(
        "--valid-days", type=int, default=REQUEST_LIFETIME.days, help="Days it may be used (7)."
    )
    parser.add_argument("-o", "--output", help="Write it here (default: standard output).")
    args = parser.parse_args(argv)
    if not 0 < args.valid_days <= REQUEST_LIFETIME.days:
        parser.error(f"--valid-days must be 1-{REQUEST_LIFETIME.days}: the server's window")
    try:
        fingerprint = args.fingerprint
        if args.fingerprint_file is not None:
            fingerprint = read_fingerprint(args.fingerprint_file)
        text = make_activation_request(
            args.license_key,
            args.product_id,
            fingerprint=fingerprint,
            instance_id=args.instance_id,
            name=args.name,
            valid_for=timedelta(days=args.valid_days),
        )
    except (MalformedRequest, OSError, UnicodeDecodeError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    if args.output:
        Path(args.output).write_text(text, encoding="ascii")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
