"""What one server process holds for its lifetime: settings, database, vault."""

from __future__ import annotations

from dataclasses import dataclass

from licensor.config import Settings, load_server_secret
from licensor.kit.db import Database, open_database
from licensor.kit.secrets import Vault


@dataclass
class AppContext:
    settings: Settings
    db: Database
    vault: Vault

    @classmethod
    def from_settings(cls, settings: Settings) -> AppContext:
        return cls(
            settings=settings,
            db=open_database(settings.resolved_database_url, settings.db_pool_size),
            vault=Vault(load_server_secret(settings)),
        )

    async def close(self) -> None:
        await self.db.dispose()
