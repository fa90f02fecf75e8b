"""Mint signed license files in one process and report files per second per core.

    .venv/bin/python bench/license_files.py --files 20000

Each file is what GET /licenses/{id}/file renders: payload dict -> canonical JSON ->
Ed25519 signature over the domain-separated input -> JSON envelope -> base64 -> wrapped
text (and, with --encrypted, AES-256-GCM under an HKDF key first). The raw Ed25519 sign
rate of the same key on a payload-sized message, measured in the same run, is the baseline.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import cryptography
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from licensor import verifier
from licensor.license_desk.licensefile import encode


def payload(i: int) -> dict[str, object]:
    now = datetime(2026, 11, 23, tzinfo=UTC)
    return {
        "version": 1,
        "id": f"dlc_{i:024d}",
        "type": "legacy",
        "business_id": "bus_bench",
        "mode": "live",
        "licensee": {"name": "Lee Licensee", "company": "Acme Ltd", "email": "lee@acme.test"},
        "plan": {"code": "premium", "name": "Premium", "features": ["sso", "audit", "geo"]},
        "users_count": 250,
        "starts_at": now.isoformat(),
        "expires_at": (now + timedelta(days=365)).isoformat(),
        "issued_at": now.isoformat(),
        "subscription": {"id": "sub_bench", "external_id": "A-S00012345", "name": "A-S00012345"},
        "cloud_instance_id": None,
    }


def rate(n: int, work: Callable[[int], object]) -> float:
    start = time.perf_counter()
    for i in range(n):
        work(i)
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3, help="best of this many rounds")
    parser.add_argument("--encrypted", action="store_true")
    args = parser.parse_args()

    key = Ed25519PrivateKey.generate()
    license_key = "AAAAA-BBBBB-CCCCC-DDDDD-EEEEE" if args.encrypted else None
    message = verifier.signing_input(verifier.ALG_PLAIN, verifier.canonical_json(payload(0)))
    public = {"sig_bench": key.public_key()}
    sample = encode(payload(0), "sig_bench", key.sign, license_key)

    def verify(text: str) -> verifier.LicensePayload:
        """As a shipped client would: its vendor's business, live mode, the types it takes."""
        return verifier.verify_license_file(
            text,
            public,
            license_key=license_key,
            check_times=False,
            business_id="bus_bench",
            mode="live",
            license_types=("legacy",),
        )

    verify(sample)

    sign_rates, file_rates = [], []
    for _ in range(args.rounds):
        sign_rates.append(rate(args.files, lambda i: key.sign(message)))
        file_rates.append(
            rate(args.files, lambda i: encode(payload(i), "sig_bench", key.sign, license_key))
        )
    verify_rate = rate(
        min(args.files, 5000),
        lambda i: verify(sample),
    )
    best_sign, best_files = max(sign_rates), max(file_rates)
    print(
        f"python {platform.python_version()}, cryptography {cryptography.__version__}, "
        f"{os.cpu_count()} cores, one process, {args.files} files x {args.rounds} rounds"
    )
    print(f"file size: {len(sample)} bytes ({'encrypted' if args.encrypted else 'plain'})")
    print(f"raw Ed25519 sign ({len(message)}-byte message): {best_sign:,.0f} /s per core")
    print(
        f"signed license files minted:             {best_files:,.0f} files/s per core "
        f"({best_files / best_sign:.0%} of the raw sign rate)"
    )
    print(f"license files verified (verifier/):      {verify_rate:,.0f} files/s per core")


if __name__ == "__main__":
    main()
