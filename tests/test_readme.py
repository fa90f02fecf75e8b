"""The README's walkthrough runs as written, against a live server on each backend."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.servers import Server

ROOT = Path(__file__).resolve().parent.parent


def walkthrough() -> str:
    text = (ROOT / "README.md").read_text()
    block = re.search(
        r"<!-- walkthrough:start -->\n```bash\n(.*?)```\n<!-- walkthrough:end -->", text, re.S
    )
    assert block is not None, "README walkthrough block not found"
    return block.group(1)


def test_readme_walkthrough_runs_as_written(server: Server) -> None:
    script = walkthrough()
    assert "URL=http://127.0.0.1:8000\n" in script
    script = script.replace("URL=http://127.0.0.1:8000\n", f"URL={server.base_url}\n", 1)
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=ROOT,
        env=server.env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert '"key":"LEGACY-0001"' in lines[0]
    assert lines[1] == '{"valid":true,"state":"valid"}'
    assert lines[2] == '{"valid":false}'
    assert lines[3] == '{"valid":false}'  # the test-mode key on the live face
    assert re.fullmatch(r"lic_\w+ active import", lines[4])
    assert lines[5:7] == ["True", "False"]
    assert lines[7] == "admin"  # the first staff admin
    assert re.fullmatch(r"303 http://127\.0\.0\.1:\d+/console/", lines[8])  # signed in
    assert lines[9:] == ["<h1>Acme</h1>"]
