"""The sealer: chains the unsealed events of each business and mode.

A change's transaction inserts its event unsealed (`seq`, `prev_hash`, `hash` NULL), so
no writer waits on another's chain head. The sealer then, for one business and mode in
one transaction: locks the chain head (first statement: PostgreSQL's row lock, SQLite's
writer lock, held to the commit), reads the unsealed events in the chain's order
(`created_at`, then `id`), links them after the head (`chain.link`), sets each one's seal
columns (the one UPDATE the triggers allow, once) and moves the head. A second sealer
waits on the head's lock and then finds those events sealed: no double seal, no fork.

Who runs it: the delivery worker's loop every `LICENSOR_AUDIT_SEAL_SECONDS` (its own
transactions: `seal_all`), and, on demand before they read, `licensor audit verify`,
`licensor audit list` and `GET /audit_events` (`seal_chain` in the reader's transaction
or a short one of its own), so what they show is sealed up to that moment.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy.ext.asyncio import AsyncSession

from licensor.audit import chain, repository
from licensor.kit.db import Database
from licensor.kit.hotstore import writers_turn

BATCH = 1000  # events sealed per statement batch (one transaction may seal several)
log = logging.getLogger("licensor.audit.sealer")


def _draft(row: dict[str, object]) -> chain.Draft:
    return chain.Draft(**{name: row[name] for name in chain.Draft.__slots__})  # type: ignore[arg-type]


async def seal_chain(session: AsyncSession, business_id: str, mode: str) -> int:
    """Seal every unsealed event of one business and mode in `session`'s transaction
    (the caller commits); the number sealed. Takes the chain head's lock first."""
    head = await repository.take_head(session, business_id, mode)
    if head is None:
        log.warning(
            "audit chain %s/%s has sealed events but no head: not sealing", business_id, mode
        )
        return 0
    seq, last_hash = head
    conn = await session.connection()  # Core, not the ORM: no ORM machinery per row
    total = 0
    while True:
        result = await conn.execute(repository.unsealed(business_id, mode, BATCH))
        rows = [dict(r._mapping) for r in result]
        if not rows:
            break
        linked = chain.link([_draft(r) for r in rows], seq, last_hash)
        await repository.seal(conn, linked)
        seq, last_hash = int(linked[-1]["seq"]), str(linked[-1]["hash"])
        await repository.move_head(session, business_id, mode, linked[-1])
        total += len(linked)
        if len(rows) < BATCH:
            break
    return total


async def seal_all(db: Database) -> int:
    """Seal every chain with unsealed events, one short transaction per chain (the job's
    own); the number of events sealed."""
    async with db.read_sessions() as session:
        found = await session.execute(repository.unsealed_chains())
        chains = [(str(business_id), str(mode)) for business_id, mode in found]
        await session.rollback()
    total = 0
    for business_id, mode in sorted(chains):
        # On SQLite, in the hot writers' turn: they wait on its lock file, not SQLite's.
        async with writers_turn(db.url), db.write_sessions() as session, session.begin():
            total += await seal_chain(session, business_id, mode)
    if total:
        log.debug("sealed %d audit events", total)
    return total


async def run_forever(db: Database, every: float, stop: asyncio.Event) -> None:
    """The worker's sealing loop: `seal_all` every `every` seconds until `stop`."""
    while not stop.is_set():
        try:
            await seal_all(db)
        except Exception:  # the database went away for a moment: try again later
            log.exception("audit sealer pass failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)
