"""This host's fully qualified name, looked up once per process (it may ask the DNS).

`AppContext.from_settings` looks it up; the server builds its context in a worker thread,
so the lookup never blocks the event loop. Later calls read the cached answer."""

from __future__ import annotations

import socket
from functools import lru_cache


@lru_cache(maxsize=1)
def local_fqdn() -> str:
    return socket.getfqdn() or "localhost"
