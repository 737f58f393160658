"""Running Alembic migrations from code (``manage.py migrate`` and ``serve``)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from server.db.engine import make_engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url)
    config.set_main_option("path_separator", "os")
    config.set_main_option(
        "version_locations", os.pathsep.join(str(p) for p in version_locations())
    )
    return config


def version_locations() -> list[Path]:
    """Core migrations plus every plugin's own ``migrations`` folder."""
    plugins = Path(__file__).resolve().parent / "plugins"
    found = [MIGRATIONS / "versions"]
    if plugins.is_dir():
        found += sorted(p for p in plugins.glob("*/migrations") if p.is_dir())
    from server.plugins.registry import migration_folders  # installed plugins (tests)

    found += [p for p in migration_folders() if p not in found]
    return found


def _upgrade(connection: Connection, config: Config) -> None:
    config.attributes["connection"] = connection
    command.upgrade(config, "heads")


async def upgrade(database_url: str) -> None:
    """Bring the database to the newest revision of every branch."""
    engine = make_engine(database_url)
    async with engine.connect() as connection:
        await connection.run_sync(_upgrade, alembic_config(database_url))
        await connection.commit()
    await engine.dispose()


def _pending(connection: Connection, config: Config) -> bool:
    current = set(MigrationContext.configure(connection).get_current_heads())
    heads = set(ScriptDirectory.from_config(config).get_heads())
    return current != heads


async def needs_upgrade(database_url: str) -> bool:
    engine = make_engine(database_url)
    async with engine.connect() as connection:
        pending = await connection.run_sync(_pending, alembic_config(database_url))
    await engine.dispose()
    return pending


def upgrade_sync(database_url: str) -> None:
    asyncio.run(upgrade(database_url))
