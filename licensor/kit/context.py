"""What one server process holds for its lifetime: settings, database, vault, passwords.

Building it blocks (files, DNS): the server builds it in a worker thread (`app.py`)."""

from __future__ import annotations

from dataclasses import dataclass

from licensor.config import Settings, load_server_secret
from licensor.kit.db import Database, open_database, private_dir
from licensor.kit.hostname import local_fqdn
from licensor.kit.passwords import Passwords
from licensor.kit.secrets import Vault


@dataclass
class AppContext:
    settings: Settings
    db: Database
    vault: Vault
    passwords: Passwords

    @classmethod
    def from_settings(cls, settings: Settings) -> AppContext:
        # The data folder holds the secret key and the SQLite files: this user's only.
        if settings.data_dir.exists() or not settings.secret_key:
            private_dir(settings.data_dir)
        local_fqdn()  # the Message-ID host (may ask the DNS): looked up here, once
        db = open_database(
            settings.resolved_database_url, settings.db_pool_size, settings.database_read_url
        )
        vault = Vault(load_server_secret(settings))
        # A session carries the process's vault and settings, for what a service queues
        # in the caller's transaction (webhooks/events.py `emit` encrypts its payload).
        for sessions in (db.write_sessions, db.read_sessions, db.list_sessions):
            sessions.configure(info={"vault": vault, "settings": settings})
        return cls(settings=settings, db=db, vault=vault, passwords=Passwords.of(settings))

    async def close(self) -> None:
        await self.db.dispose()
