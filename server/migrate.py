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
    # The option is ConfigParser text, where "%" starts an interpolation: a URL's
    # percent-encoded characters (a password with "@" or "/" in it) are written "%%".
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
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


class SchemaNewer(Exception):
    """The database was migrated by a newer version of Tessera (after a rollback of the
    code): nothing here can bring it to this code's revision."""

    def __init__(self, unknown: set[str]) -> None:
        names = ", ".join(sorted(unknown))
        super().__init__(
            f"The database schema is newer than this version of Tessera (revision {names} "
            "is unknown here): a newer version migrated it.\n"
            "Run that version again, or restore the backup taken before the upgrade "
            "(Tessera does not migrate down)."
        )


def unknown_revisions(current: set[str], script: ScriptDirectory) -> set[str]:
    """The database's revisions that no migration script of this code names."""
    known = {revision.revision for revision in script.walk_revisions()}
    return current - known


def _check_not_newer(connection: Connection, config: Config) -> set[str]:
    current = set(MigrationContext.configure(connection).get_current_heads())
    unknown = unknown_revisions(current, ScriptDirectory.from_config(config))
    if unknown:
        raise SchemaNewer(unknown)
    return current


def _upgrade(connection: Connection, config: Config) -> tuple[set[str], set[str]]:
    before = _check_not_newer(connection, config)
    config.attributes["connection"] = connection
    command.upgrade(config, "heads")
    return before, set(MigrationContext.configure(connection).get_current_heads())


async def upgrade(database_url: str) -> tuple[set[str], set[str]]:
    """Bring the database to the newest revision of every branch; returns the
    revisions before and after (empty before: a new database)."""
    engine = make_engine(database_url)
    async with engine.connect() as connection:
        revisions = await connection.run_sync(_upgrade, alembic_config(database_url))
        await connection.commit()
    await engine.dispose()
    return revisions


def _pending(connection: Connection, config: Config) -> bool:
    current = _check_not_newer(connection, config)
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
