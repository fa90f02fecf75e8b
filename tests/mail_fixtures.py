"""Fixtures for tests that send mail: an in-process SMTP server (aiosmtpd) and a
`licensor serve` on each backend configured to deliver to it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from tests.mail import SmtpSink, start_server_with
from tests.servers import Server, Tenant, fresh_postgres_database


@pytest.fixture(scope="module")
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as s:
        yield s


@pytest.fixture(scope="module")
def mail_server(
    backend: str,
    sink: SmtpSink,
    tmp_path_factory: pytest.TempPathFactory,
    _postgres_checked: bool,
) -> Iterator[Server]:
    with ExitStack() as stack:
        url = None
        if backend == "postgres":
            if not _postgres_checked:
                pytest.skip("PostgreSQL not reachable")
            url = stack.enter_context(fresh_postgres_database())
        data_dir = tmp_path_factory.mktemp(f"mail-{backend}")
        srv, _ = start_server_with(backend, data_dir, url, sink.env())
        stack.callback(srv.stop)
        yield srv


@pytest.fixture
def shop(mail_server: Server) -> Tenant:
    return mail_server.tenant(name=f"Acme {uuid.uuid4().hex[:6]}")
