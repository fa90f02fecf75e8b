"""A unique constraint the database enforced becomes the domain's 409, on both backends.

Services check before they insert, but two requests can both pass the check; the
database then refuses one of them. Whatever the flush or commit that hits it, the error
reaches the one handler, which asks `conflict_for` for the domain's answer. Constraints
are named by the naming convention in `kit/db.py`; PostgreSQL reports that name, SQLite
reports the table and columns, which `_sqlite_names` maps back to it.
"""

from __future__ import annotations

import re
from functools import lru_cache

from sqlalchemy import UniqueConstraint
from sqlalchemy.exc import IntegrityError

from licensor.kit.db import Base
from licensor.kit.errors import Conflict

UNIQUE_VIOLATION = "23505"

# constraint name -> (code, message): the answer a request would get from the check
# that precedes the insert, had it seen the row the concurrent request committed.
DOMAIN_CONFLICTS: dict[str, tuple[str, str]] = {
    "uq_plans_business_id_mode_code": ("PLAN_CODE_TAKEN", "this plan code is already taken"),
    "uq_subscriptions_business_id_mode_external_id": (
        "SUBSCRIPTION_EXTERNAL_ID_TAKEN",
        "a subscription with this external_id already exists",
    ),
    "uq_org_members_customer_id_email": ("MEMBER_EXISTS", "this email is already a member"),
    "uq_org_members_one_owner": ("OWNER_EXISTS", "this organisation already has an owner"),
    "uq_mail_settings_business_id_mode": (
        "CONCURRENT_UPDATE",
        "the mail settings were changed at the same time; try again",
    ),
    "uq_users_business_id_email": ("USER_EXISTS", "a user with this email already exists"),
    "uq_license_keys_key_hash": (
        "LICENSE_KEY_ALREADY_EXISTS",
        "a license key with this value already exists",
    ),
    "uq_desk_licenses_key_hash": (
        "LICENSE_KEY_COLLISION",
        "could not generate a unique license key",
    ),
    "uq_signing_keys_one_active": (
        "CONCURRENT_UPDATE",
        "the signing keys were changed at the same time; try again",
    ),
    "uq_cloud_instances_subscription_id_instance_id": (
        "CONCURRENT_UPDATE",
        "this instance was activated at the same time; try again",
    ),
}
GENERIC = ("CONFLICT", "a concurrent request created the same value; try again")

_SQLITE_UNIQUE = re.compile(r"UNIQUE constraint failed: (.+)$")


@lru_cache(maxsize=1)
def _sqlite_names() -> dict[tuple[str, tuple[str, ...]], str]:
    """(table, columns) -> constraint name, for every unique constraint and index."""
    import licensor.models  # noqa: F401  (registers every table on the metadata)

    names: dict[tuple[str, tuple[str, ...]], str] = {}
    for table in Base.metadata.sorted_tables:
        for con in table.constraints:
            if isinstance(con, UniqueConstraint) and isinstance(con.name, str):
                names[(table.name, tuple(c.name for c in con.columns))] = con.name
        for index in table.indexes:
            if index.unique and isinstance(index.name, str):
                names.setdefault((table.name, tuple(c.name for c in index.columns)), index.name)
    return names


def constraint_name(exc: IntegrityError) -> str | None:
    """The unique constraint `exc` violated, or None when it is not a unique violation."""
    orig = exc.orig
    if str(getattr(orig, "sqlstate", "") or "") == UNIQUE_VIOLATION:
        cause = getattr(orig, "__cause__", None)
        name = getattr(cause, "constraint_name", None) or getattr(orig, "constraint_name", None)
        return str(name) if name else ""
    found = _SQLITE_UNIQUE.search(str(orig))
    if found is None:
        return None
    columns = [part.strip().split(".", 1) for part in found.group(1).split(",")]
    if not columns or any(len(part) != 2 for part in columns):
        return ""
    table = columns[0][0]
    return _sqlite_names().get((table, tuple(col for _, col in columns)), "")


def conflict_for(exc: IntegrityError) -> Conflict | None:
    """The domain's 409 for a unique violation; None for any other integrity error."""
    name = constraint_name(exc)
    if name is None:
        return None
    code, message = DOMAIN_CONFLICTS.get(name, GENERIC)
    return Conflict(message, code=code)
