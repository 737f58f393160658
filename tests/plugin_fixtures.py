"""Installing the dummy plugin for a test, and switching plugins on and off."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

from sqlalchemy.ext.asyncio import AsyncSession

from server.migrate import upgrade
from server.plugins import registry
from server.plugins.contract import Plugin
from server.settings.store import get_setting, set_setting


@contextlib.contextmanager
def installed(plugin: Plugin, database_url: str) -> Iterator[Plugin]:
    """Install ``plugin``, migrate ``database_url`` to its branch, uninstall afterwards."""
    registry.install(plugin)
    try:
        asyncio.run(upgrade(database_url))
        yield plugin
    finally:
        registry.uninstall(plugin.key)


async def set_enabled(db: AsyncSession, key: str, on: bool) -> None:
    keys = list(await get_setting(db, "enabled_plugins"))
    keys = [k for k in keys if k != key] + ([key] if on else [])
    await set_setting(db, "enabled_plugins", keys, actor_id=None)
    await db.commit()
