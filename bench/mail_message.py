"""CPU cost of building one license email, and the share of the stable MIME boundaries.

`python bench/mail_message.py [--n 2000] [--repeats 5] [--attachment-kb 16]`. Renders
the `key` email (no attachment) and the `file` email (a license file attached) with
`licensor.delivery.render.build_message`, the function the worker calls once per
attempt, and times `fix_boundaries` (boundaries derived from the Message-ID, so that
every retry sends the same bytes) on its own. In-process, one thread, best of the
repeats of CPU time: µs per message. No SMTP, no database.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import EmailMessage

from licensor.delivery.render import Attachment, Letter, Sender, build_message, fix_boundaries

SENDER = Sender(name="Acme Licensing", email="licenses@licensor.test", footer="Acme, 1 Main St")
WHEN = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def key_letter(i: int) -> Letter:
    context = {
        "license_id": f"lic_{i}",
        "license_key": "ACME-1234-5678-9ABC",
        "product_name": "Widget Pro",
        "customer_name": "Ann Buyer",
        "customer_email": "ann@buyer.test",
        "activations_limit": 3,
        "expires_at": None,
        "activation_message": "Paste the key in Settings > License.",
    }
    return Letter(f"eml_{i}", f"<eml_{i}@licensor.host.test>", "key", "ann@buyer.test", context)


def file_letter(i: int, attachment: bytes) -> Letter:
    context = {
        "license_id": f"dlc_{i}",
        "filename": f"dlc_{i}.license",
        "product_name": "Widget Pro",
        "customer_name": "Ann Buyer",
        "expires_at": "2027-12-01 12:00 UTC",
        "users_count": 25,
    }
    files = [Attachment(f"dlc_{i}.license", "application/x-licensor-license", attachment)]
    return Letter(
        f"eml_{i}", f"<eml_{i}@licensor.host.test>", "file", "ann@buyer.test", context, files
    )


def best_of(repeats: int, n: int, work: Callable[[int], object]) -> float:
    """Best CPU µs per call over the repeats."""
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        for i in range(n):
            work(i)
        best = min(best, (time.process_time() - start) / n * 1e6)
    return best


def row(name: str, make: Callable[[int], Letter], built: EmailMessage, r: int, n: int) -> str:
    total = best_of(r, n, lambda i: build_message(make(i), SENDER, WHEN))
    seed = str(built["Message-ID"])
    fixing = best_of(r, n, lambda i: fix_boundaries(built, seed))
    return f"{name:<8}{total:>12.1f}{fixing:>16.1f}{fixing / total:>8.1%}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="messages per repeat")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--attachment-kb", type=int, default=16)
    args = parser.parse_args()
    attachment = os.urandom(args.attachment_kb * 1024)

    built: dict[str, EmailMessage] = {
        "key": build_message(key_letter(0), SENDER, WHEN),
        "file": build_message(file_letter(0, attachment), SENDER, WHEN),
    }
    assert built["key"].as_bytes() == build_message(key_letter(0), SENDER, WHEN).as_bytes()

    print(
        f"python bench/mail_message.py --n {args.n} --repeats {args.repeats} "
        f"--attachment-kb {args.attachment_kb}"
    )
    print(f"{'email':<8}{'build µs':>12}{'boundaries µs':>16}{'share':>9}")
    makers: dict[str, Callable[[int], Letter]] = {
        "key": key_letter,
        "file": lambda i: file_letter(i, attachment),
    }
    for name, make in makers.items():
        print(row(name, make, built[name], args.repeats, args.n))


if __name__ == "__main__":
    main()
