"""The CLI in process against a server's database, answering like a finished process:
return code, stdout, stderr. The command tree built once (`licensor.cli.main.command`),
run inside Typer's runner isolation: no Python start and no Typer rebuild per command."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from typer.testing import CliRunner

from licensor.cli.main import command
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
    """Run `licensor ARGS` with `env` set for the call only (the runner's isolation restores
    it); `stdin`: what the command reads on standard input. A crash is raised, never
    turned into an exit code."""
    code = 0
    with runner.isolation(input=stdin, env=dict(env)) as (out, err, _both):
        try:
            command().main(args=list(args), prog_name="licensor")
        except SystemExit as e:
            if isinstance(e.code, int) or e.code is None:
                code = e.code or 0
            else:
                sys.stderr.write(f"{e.code}\n")
                code = 1
        finally:
            get_settings.cache_clear()  # the command's settings leave with its environment
            sys.stdout.flush()
            sys.stderr.flush()
        return Done(code, _text(out.getvalue()), _text(err.getvalue()))


def _text(data: bytes) -> str:
    return data.decode(runner.charset, "replace").replace("\r\n", "\n")


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
