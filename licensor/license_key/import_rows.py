"""Preparing a batch of an import file: each record validated by the API's rules, then
the keys hashed, given ids and encrypted in one tight loop (no database).

Rows are kept column by column (lists), which is what the writer needs and costs the
least per key. A key that appears twice in one batch is kept at its first line and
rejected at the others; a key seen in an earlier batch (or already in the database) is
found by the writer.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from licensor.audit.service import mask
from licensor.kit.handlers import describe_validation_errors
from licensor.kit.ids import new_ids
from licensor.kit.secrets import Vault
from licensor.license_key.import_file import Record
from licensor.license_key.import_schemas import LicenseKeyImportRow
from licensor.license_key.keys import LOOKUP_PURPOSE

VALIDATION = "VALIDATION_ERROR"
DUPLICATE_IN_BATCH = "DUPLICATE_KEY_IN_FILE"


class _Unset(enum.Enum):
    """A field the row left out: the product's default applies. An enum member, so it is
    still itself after a batch comes back from a worker process (pickled by name)."""

    UNSET = "unset"


UNSET: Any = _Unset.UNSET
COLUMN_LISTS = (
    "lines",
    "keys",
    "customers",
    "customer_names",
    "products",
    "limits",
    "expiries",
    "disabled",
    "payment_ids",
    "subscription_ids",
    "ids",
    "hashes",
    "encrypted",
)


@dataclass(frozen=True, slots=True)
class Rejected:
    line: int
    key: str | None
    code: str
    message: str

    def report(self) -> dict[str, object]:
        """The report's line: the key masked as the audit log masks secrets."""
        return {
            "line": self.line,
            "key": mask(self.key),
            "code": self.code,
            "message": self.message,
        }


@dataclass
class Batch:
    """The valid rows of a run of records (column lists, one entry per row) and the
    rejected ones; `first_line`..`last_line` is the stretch of the file it covers."""

    first_line: int
    last_line: int
    lines: list[int] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    customers: list[str] = field(default_factory=list)
    customer_names: list[str | None] = field(default_factory=list)
    products: list[str] = field(default_factory=list)
    limits: list[Any] = field(default_factory=list)  # int, None (unlimited) or UNSET
    expiries: list[Any] = field(default_factory=list)  # datetime, None (never) or UNSET
    disabled: list[bool] = field(default_factory=list)
    payment_ids: list[str | None] = field(default_factory=list)
    subscription_ids: list[str | None] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    hashes: list[bytes] = field(default_factory=list)
    encrypted: list[bytes] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.lines)

    def keep(self, positions: Iterable[int]) -> None:
        """Keep only the rows at `positions` (in order); the rejected list is unchanged."""
        wanted = list(positions)
        size = len(self.lines)
        for name in COLUMN_LISTS:
            column = getattr(self, name)
            if len(column) == size:  # the columns filled so far
                setattr(self, name, [column[i] for i in wanted])


def _key_of(fields: dict[str, object]) -> str | None:
    key = fields.get("key")
    return key if isinstance(key, str) else None


def _add(batch: Batch, line: int, row: LicenseKeyImportRow) -> None:
    sent = row.model_fields_set
    batch.lines.append(line)
    batch.keys.append(row.key)
    batch.customers.append(row.customer)
    batch.customer_names.append(row.customer_name)
    batch.products.append(row.product)
    batch.limits.append(row.activations_limit if "activations_limit" in sent else UNSET)
    batch.expiries.append(row.expires_at if "expires_at" in sent else UNSET)
    batch.disabled.append(row.disabled)
    batch.payment_ids.append(row.payment_id)
    batch.subscription_ids.append(row.subscription_id)


def validate(records: list[Record]) -> Batch:
    """Each record through `LicenseKeyImportRow`: the API's rules and messages."""
    batch = Batch(first_line=records[0].line, last_line=records[-1].line)
    model = LicenseKeyImportRow.model_validate
    for record in records:
        if record.fields is None:
            problem = record.problem or ""
            batch.rejected.append(Rejected(record.line, record.key, VALIDATION, problem))
            continue
        try:
            row = model(record.fields)
        except ValidationError as exc:
            message = describe_validation_errors(list(exc.errors()))
            batch.rejected.append(
                Rejected(record.line, _key_of(record.fields), VALIDATION, message)
            )
            continue
        _add(batch, record.line, row)
    return batch


def seal(batch: Batch, vault: Vault) -> None:
    """Ids, lookup hashes and ciphertexts for the batch's keys; a key repeated within
    the batch is rejected at each later line."""
    hasher = vault.lookup_hasher(LOOKUP_PURPOSE)
    hashes = [hasher(k) for k in batch.keys]
    first: dict[bytes, int] = {}
    keep: list[int] = []
    for i, h in enumerate(hashes):
        seen = first.setdefault(h, i)
        if seen == i:
            keep.append(i)
        else:
            message = f"the same key as line {batch.lines[seen]}"
            batch.rejected.append(
                Rejected(batch.lines[i], batch.keys[i], DUPLICATE_IN_BATCH, message)
            )
    # Rows in the order of their hashes, and ids drawn at random then sorted: the two
    # unique indexes (key hash, id) take the batch in ascending order, leaf after leaf,
    # instead of at random places (both values are random, so nothing is given away).
    keep.sort(key=hashes.__getitem__)
    batch.keep(keep)
    batch.hashes = [hashes[i] for i in keep]
    batch.ids = sorted(new_ids("lic", len(keep)))
    batch.encrypted = vault.encrypt_many(batch.keys, batch.ids)


def prepare(records: list[Record], vault: Vault) -> Batch:
    batch = validate(records)
    seal(batch, vault)
    return batch
