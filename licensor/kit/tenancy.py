"""Who a request is for: the mode comes from the URL, the business from the credential.

The root serves live mode and `/test` serves the whole API again for test mode, the way
Dodo's SDK picks its environment by base URL. `ModeFace`, the outermost ASGI layer,
reads the prefix once: it sets `root_path` (so FastAPI routes and documents the test
face under `/test`) and records the face's mode in the scope, where the thin handlers
and the FastAPI dependencies read it. A credential of the other mode is refused there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from starlette.types import ASGIApp, Receive, Scope, Send

Mode = Literal["test", "live"]
MODES: tuple[Mode, ...] = ("test", "live")
TEST_PREFIX = "/test"
SCOPE_KEY = "licensor.mode"
# An API key names its mode by its prefix; the vault's lookup hash uses this purpose.
API_KEY_PURPOSE = "api_key"
API_KEY_PREFIXES: dict[str, Mode] = {"lk_test_": "test", "lk_live_": "live"}


def mode_of(secret: str) -> Mode | None:
    for prefix, mode in API_KEY_PREFIXES.items():
        if secret.startswith(prefix):
            return mode
    return None


@dataclass(frozen=True)
class Principal:
    """A management API caller: the API key's business and mode."""

    business_id: str
    mode: Mode
    api_key_id: str


def face_mode(scope: Scope) -> Mode:
    """The mode of the face this request came in on (live when none was recorded)."""
    mode: Mode = scope.get(SCOPE_KEY, "live")
    return mode


def route_path(scope: Scope) -> str:
    """The path below the face's prefix: `/test/licenses/validate` → `/licenses/validate`."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        return path[len(root) :] or "/"
    return path


def face_url(scope: Scope, origin: str, mode: Mode) -> str:
    """The base URL of `mode`'s face on this server, from a request's scope and origin."""
    root: str = scope.get("root_path", "")
    if face_mode(scope) == "test":
        root = root.removesuffix(TEST_PREFIX)
    return origin + root + (TEST_PREFIX if mode == "test" else "")


class ModeFace:
    """Serve live mode at the root and test mode under `/test`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        scope = dict(scope)
        below = route_path(scope)
        if below == TEST_PREFIX or below.startswith(TEST_PREFIX + "/"):
            scope["root_path"] = scope.get("root_path", "") + TEST_PREFIX
            scope[SCOPE_KEY] = "test"
        else:
            scope[SCOPE_KEY] = "live"
        await self.app(scope, receive, send)
