"""Walking a chain: the first event that was edited, deleted or reordered.

The sealed events are read in `seq` order (an unsealed one is not on the chain yet). For
each, in turn: a gap in the numbers is a deletion; an event whose own hash does not
match its fields was edited, or, when its hash matches the same fields at another
position, moved there (reordered); an intact event whose `prev_hash` is not the hash
of the one before means that one was edited (and rehashed).
At the end the chain head must name the last event: a shorter chain lost its tail.
"""

from __future__ import annotations

from collections.abc import AsyncIterable
from typing import Any, Literal

from pydantic import BaseModel

from licensor.audit import chain
from licensor.kit.errors import Conflict

Problem = Literal["edited", "deleted", "reordered", "head_missing"]


class ChainFault(BaseModel):
    kind: Problem
    seq: int
    event_id: str | None
    message: str


class ChainReport(BaseModel):
    """`events`: the sealed events walked; `head_seq`: the sealed position (the chain
    head's); `unsealed`: events written but not chained yet (not covered by the walk)."""

    business_id: str
    mode: str
    ok: bool
    events: int
    head_seq: int
    head_hash: str
    unsealed: int = 0
    fault: ChainFault | None = None


class Walk:
    def __init__(self, business_id: str, mode: str) -> None:
        self.business_id = business_id
        self.mode = mode
        self.n = 0
        self.prev_hash = chain.GENESIS
        self.prev_id: str | None = None
        self.fault: ChainFault | None = None

    def _fail(self, kind: Problem, seq: int, event_id: str | None, message: str) -> None:
        self.fault = ChainFault(kind=kind, seq=seq, event_id=event_id, message=message)

    def feed(self, row: dict[str, Any], head_seq: int) -> bool:
        """Check the next event; False once a fault is found."""
        expected = self.n + 1
        seq, event_id = int(row["seq"]), str(row["id"])
        if chain.event_hash(row) != row["hash"]:
            moved = next(
                (
                    s
                    for s in range(1, max(head_seq, seq) + 1)
                    if s != seq and chain.event_hash({**row, "seq": s}) == row["hash"]
                ),
                None,
            )
            if moved is not None:
                self._fail(
                    "reordered",
                    seq,
                    event_id,
                    f"event {event_id} was #{moved} of the chain and is now #{seq}",
                )
            else:
                self._fail("edited", seq, event_id, f"event {event_id} (#{seq}) was edited")
            return False
        if seq != expected:
            gone = f"#{expected}" if seq == expected + 1 else f"#{expected}-#{seq - 1}"
            self._fail(
                "deleted",
                expected,
                event_id,
                f"event {gone} was deleted (the chain goes from "
                f"{self.prev_id or 'its start'} to {event_id}, #{seq})",
            )
            return False
        if row["prev_hash"] != self.prev_hash:
            self._fail(
                "edited",
                self.n,
                self.prev_id,
                f"event {self.prev_id} (#{self.n}) was edited: event {event_id} "
                f"(#{seq}) recorded another hash for it",
            )
            return False
        self.n, self.prev_hash, self.prev_id = seq, str(row["hash"]), event_id
        return True

    def finish(self, head: tuple[int, str] | None) -> None:
        if self.fault is not None:
            return
        if head is None:
            if self.n:
                self._fail("head_missing", self.n, None, "the chain head row is missing")
            return
        head_seq, head_hash = head
        if head_seq > self.n:
            first = self.n + 1
            gone = f"#{first}" if head_seq == first else f"#{first}-#{head_seq}"
            after = f"after {self.prev_id}" if self.prev_id else "from the start"
            self._fail("deleted", first, None, f"event {gone} was deleted ({after})")
        elif head_hash != self.prev_hash:
            self._fail(
                "edited", self.n, self.prev_id, f"event {self.prev_id} (#{self.n}) was edited"
            )

    def report(self, head: tuple[int, str] | None) -> ChainReport:
        self.finish(head)
        return ChainReport(
            business_id=self.business_id,
            mode=self.mode,
            ok=self.fault is None,
            events=self.n,
            head_seq=head[0] if head else 0,
            head_hash=head[1] if head else chain.GENESIS,
            fault=self.fault,
        )


async def check_stream(
    business_id: str,
    mode: str,
    rows: AsyncIterable[dict[str, Any]],
    head: tuple[int, str] | None,
) -> ChainReport:
    walk = Walk(business_id, mode)
    head_seq = head[0] if head else 0
    async for row in rows:
        if not walk.feed(row, head_seq):
            break
    return walk.report(head)


class AuditChainBroken(Conflict):
    """`licensor audit verify` found an edited, deleted or reordered event."""

    code = "AUDIT_CHAIN_BROKEN"
