"""The CLI in process (Typer's runner: no Python start per command) against a server's
database, answering like a finished process: return code, stdout, stderr."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from typer.testing import CliRunner

from licensor.cli.main import app
from licensor.config import get_settings
from tests.servers import Server

runner = CliRunner()


@dataclass(frozen=True)
class Done:
    returncode: int
    stdout: str
    stderr: str

    def error(self) -> dict[str, Any]:
        """The one JSON error line on stderr."""
        body = json.loads(self.stderr.strip().splitlines()[-1])
        assert set(body) == {"code", "message"}, body
        return dict(body)


def invoke(env: Mapping[str, str], *args: str, stdin: str | None = None) -> Done:
    """Run `licensor ARGS` with `env` set for the call only (the runner restores it);
    `stdin`: what the command reads on standard input."""
    try:
        result = runner.invoke(app, list(args), env=dict(env), input=stdin)
    finally:
        get_settings.cache_clear()  # the command's settings leave with its environment
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # a crash is a bug, never an exit code
    return Done(result.exit_code, result.stdout, result.stderr)


def server_env(server: Server, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    return {
        "LICENSOR_DATA_DIR": str(server.settings.data_dir),
        "LICENSOR_DATABASE_URL": server.settings.resolved_database_url,
        **server.extra_env,
        **(extra or {}),
    }


def cli(server: Server, *args: str, env: Mapping[str, str] | None = None) -> Done:
    """`licensor ARGS` against the server's database."""
    return invoke(server_env(server, env), *args)


def cli_json(server: Server, *args: str) -> Any:
    done = cli(server, *args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)
