"""CPU cost of the thin license path in-process, without HTTP: µs per request.

`python bench/hotpath.py`. It seeds a fresh SQLite data dir through a real server (as
bench/validate.py does), stops it, then calls the ASGI app that `licensor serve` runs
directly with prebuilt receive/send callables, on one thread, many times. No network,
no uvicorn, no load generator: on a shared, noisy machine this is the steadier figure
for before/after comparisons of the hot path (best of several repeats of CPU time).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from support import BIN, LIMITS_ABOVE_LOAD, free_port, running, seed

Send = Callable[[dict[str, Any]], Awaitable[None]]


async def drive(app: Any, path: str, bodies: list[bytes], n: int, want: int) -> float:
    """CPU seconds for n requests (cycling over bodies); every answer must have status want."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"content-type", b"application/json")],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }
    statuses: list[int] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    count = len(bodies)
    start = time.process_time()
    for i in range(n):
        message = {"type": "http.request", "body": bodies[i % count], "more_body": False}

        async def receive(message: dict[str, Any] = message) -> dict[str, Any]:
            return message

        await app(dict(scope), receive, send)
    spent = time.process_time() - start
    bad = [s for s in statuses if s != want]
    if bad:
        raise SystemExit(f"{path}: {len(bad)} answers were not {want} (e.g. {bad[0]})")
    return spent


async def run(args: argparse.Namespace, data_dir: Path, keys: list[str]) -> None:
    os.environ["LICENSOR_DATA_DIR"] = str(data_dir)
    os.environ.pop("LICENSOR_DATABASE_URL", None)
    os.environ.update(LIMITS_ABOVE_LOAD)  # counted as in production, none refused
    from licensor.app import create_app
    from licensor.config import Settings

    app = create_app(Settings())
    api: Any = app  # the thin handlers wrap FastAPI, one layer each: unwrap to it
    while not hasattr(api, "router"):
        api = api.app
    validate = [json.dumps({"license_key": k}).encode() for k in keys]
    unknown = [json.dumps({"license_key": k[::-1]}).encode() for k in keys]
    async with api.router.lifespan_context(api):
        for label, path, bodies in (
            ("validate (valid key)", "/licenses/validate", validate),
            ("validate (unknown key)", "/licenses/validate", unknown),
        ):
            await drive(app, path, bodies, 2000, 200)  # warm-up
            best = min([await drive(app, path, bodies, args.n, 200) for _ in range(args.repeat)])
            print(f"{label:<24} {best * 1e6 / args.n:7.1f} µs/request (best of {args.repeat})")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--keys", type=int, default=1000)
    p.add_argument("-n", type=int, default=20000, help="requests per repeat")
    p.add_argument("--repeat", type=int, default=7)
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="licensor-hotpath-") as tmp:
        data_dir = Path(tmp)
        env = dict(os.environ, LICENSOR_DATA_DIR=str(data_dir))
        env.pop("LICENSOR_DATABASE_URL", None)
        port = free_port()
        cmd = [str(BIN / "licensor"), "serve", "--port", str(port)]
        with running(cmd, f"http://127.0.0.1:{port}/health", env):
            keys = seed(BIN / "licensor", f"http://127.0.0.1:{port}", env, args.keys, 0).keys
        asyncio.run(run(args, data_dir, keys))
    return 0


if __name__ == "__main__":
    sys.exit(main())
