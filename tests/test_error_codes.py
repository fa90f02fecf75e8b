"""One code, one status, one class: read from the source, and docs/api.md lists each once.

The source is read, not run: every `code = "…"` of a `LicensorError` subclass and every
`code="…"` passed to one, the handler's status codes, and the unique constraints the
integrity check turns into 409s. A code raised with two statuses, or one missing from (or
listed twice in) the table in docs/api.md, fails here."""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

from licensor.kit import addresses
from licensor.kit.handlers import HTTP_CODES
from licensor.kit.integrity import DOMAIN_CONFLICTS

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "licensor"
ROW = re.compile(r"^\|\s*(\d{3})\s*\|(.*?)\|")


def _trees() -> dict[Path, ast.Module]:
    return {p: ast.parse(p.read_text()) for p in sorted(PACKAGE.rglob("*.py"))}


def _classes(trees: dict[Path, ast.Module]) -> dict[str, tuple[str | None, str | None, int | None]]:
    """Class name -> (first base, its `code`, its `status_code`)."""
    found: dict[str, tuple[str | None, str | None, int | None]] = {}
    for tree in trees.values():
        for node in ast.walk(tree):
            if not isinstance(node, ast.ClassDef):
                continue
            code: str | None = None
            status: int | None = None
            for stmt in node.body:
                if (
                    isinstance(stmt, ast.Assign)
                    and isinstance(stmt.targets[0], ast.Name)
                    and isinstance(stmt.value, ast.Constant)
                ):
                    if stmt.targets[0].id == "code":
                        code = str(stmt.value.value)
                    elif stmt.targets[0].id == "status_code":
                        assert isinstance(stmt.value.value, int)
                        status = stmt.value.value
            bases = [b.id for b in node.bases if isinstance(b, ast.Name)]
            found[node.name] = (bases[0] if bases else None, code, status)
    return found


def _is_error(name: str, classes: dict[str, tuple[str | None, str | None, int | None]]) -> bool:
    while name in classes:
        if name == "LicensorError":
            return True
        name = classes[name][0] or ""
    return False


def _status(name: str, classes: dict[str, tuple[str | None, str | None, int | None]]) -> int:
    while name in classes:
        base, _, status = classes[name]
        if status is not None:
            return status
        name = base or ""
    raise AssertionError(f"{name} has no status")


def raised_codes() -> dict[str, set[int]]:
    trees = _trees()
    classes = _classes(trees)
    constants: dict[str, str] = {}
    for tree in trees.values():
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Assign)
                and isinstance(node.targets[0], ast.Name)
                and node.targets[0].id.isupper()
                and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, str)
            ):
                constants[node.targets[0].id] = node.value.value
    codes: dict[str, set[int]] = defaultdict(set)
    for name, (_, code, _) in classes.items():
        if code is not None and _is_error(name, classes):
            codes[code].add(_status(name, classes))
    for path, tree in trees.items():
        if path.parent.name == "cli":  # the CLI prints codes; it answers no HTTP status
            continue
        for node in ast.walk(tree):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and _is_error(node.func.id, classes)
            ):
                continue
            for kw in node.keywords:
                if kw.arg != "code":
                    continue
                if isinstance(kw.value, ast.Constant):
                    codes[str(kw.value.value)].add(_status(node.func.id, classes))
                elif isinstance(kw.value, ast.Name) and kw.value.id in constants:
                    codes[constants[kw.value.id]].add(_status(node.func.id, classes))
    for status, code in HTTP_CODES.items():
        codes[code].add(status)
    for code, _ in DOMAIN_CONFLICTS.values():
        codes[code].add(409)
    for code in (addresses.INVALID_DOMAIN, addresses.IP_LITERAL, addresses.INVISIBLE):
        codes[code].add(422)  # an AddressError becomes Unprocessable(code=exc.code)
    codes["INTERNAL_ERROR"].add(500)
    return codes


def documented_codes() -> list[tuple[str, int]]:
    text = (ROOT / "docs" / "api.md").read_text()
    section = text.split("## Error codes", 1)[1].split("\n## ", 1)[0]
    rows: list[tuple[str, int]] = []
    for line in section.splitlines():
        match = ROW.match(line)
        if match:
            rows += [(code, int(match[1])) for code in re.findall(r"`([A-Z0-9_]+)`", match[2])]
    return rows


def test_each_code_has_one_status() -> None:
    codes = raised_codes()
    assert len(codes) > 50
    assert {code: sorted(s) for code, s in codes.items() if len(s) > 1} == {}


def test_docs_list_each_code_once_with_its_status() -> None:
    rows = documented_codes()
    listed = [code for code, _ in rows]
    assert sorted({c for c in listed if listed.count(c) > 1}) == []
    codes = {code: next(iter(s)) for code, s in raised_codes().items()}
    assert sorted(set(codes) - set(listed)) == []
    assert sorted(set(listed) - set(codes)) == []
    assert [(c, s) for c, s in rows if codes[c] != s] == []


def test_shared_codes_have_one_class() -> None:
    from licensor.license_key.errors import LicenseKeyNotFound
    from licensor.orgs.errors import OwnerByTransfer
    from licensor.subscription.errors import SubscriptionCancelled

    assert (LicenseKeyNotFound.code, LicenseKeyNotFound.status_code) == (
        "LICENSE_KEY_NOT_FOUND",
        404,
    )
    assert (SubscriptionCancelled.code, SubscriptionCancelled.status_code) == (
        "SUBSCRIPTION_CANCELLED",
        403,
    )
    assert (OwnerByTransfer.code, OwnerByTransfer.status_code) == ("OWNER_BY_TRANSFER", 409)
