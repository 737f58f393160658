"""Finding, loading and enabling plugins (the contract is in ``server.plugins.contract``)."""

from __future__ import annotations

import datetime as dt
import importlib
import pkgutil
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from server.auth import permissions
from server.members.models import Member
from server.nightly import registry as nightly
from server.plugins.contract import Plugin, Section, SectionContext
from server.settings import registry as settings_registry
from server.settings.store import get_setting
from server.web import navigation

PLUGIN_DIR = Path(__file__).resolve().parent
_PLUGINS: dict[str, Plugin] = {}
_discovered = False


def install(plugin: Plugin) -> None:
    """Make a plugin available: register its settings, permissions, models and jobs."""
    _PLUGINS[plugin.key] = plugin
    for definition in plugin.settings:
        settings_registry.register(definition)
    for permission in plugin.permissions:
        permissions.register(permission)
    for module in plugin.model_modules:
        importlib.import_module(module)
    for job in plugin.nightly_jobs:
        nightly.register(
            nightly.NightlyJob(
                f"{plugin.key}.{job.name}", job.order, _only_when_enabled(plugin, job)
            )
        )
    for link in plugin.nav_links:
        navigation.add(link)


def _only_when_enabled(plugin: Plugin, job: nightly.NightlyJob) -> nightly.JobFunc:
    async def run(db: AsyncSession, today: dt.date) -> str:
        if plugin.key not in await enabled_keys(db):
            return "skipped (plugin disabled)"
        return await job.run(db, today)

    return run


def uninstall(key: str) -> None:
    """Forget a plugin (tests)."""
    _PLUGINS.pop(key, None)


def discover() -> list[Plugin]:
    """Import every package under ``server/plugins/`` that exposes ``plugin``."""
    global _discovered
    if not _discovered:
        _discovered = True
        for info in pkgutil.iter_modules([str(PLUGIN_DIR)]):
            if not info.ispkg:
                continue
            module = importlib.import_module(f"server.plugins.{info.name}")
            plugin = getattr(module, "plugin", None)
            if isinstance(plugin, Plugin):
                install(plugin)
    return available()


def available() -> list[Plugin]:
    return sorted(_PLUGINS.values(), key=lambda p: p.key)


async def enabled_keys(db: AsyncSession) -> set[str]:
    value = await get_setting(db, "enabled_plugins")
    return set(value or [])


async def enabled(db: AsyncSession) -> list[Plugin]:
    keys = await enabled_keys(db)
    return [p for p in available() if p.key in keys]


async def collect_sections(
    db: AsyncSession, member: Member, context: SectionContext, today: dt.date | None = None
) -> list[Section]:
    """Every enabled plugin's sections for ``member`` in ``context``, ordered (order, key)."""
    today = today or dt.date.today()
    sections: list[Section] = []
    for plugin in await enabled(db):
        if plugin.sections is not None:
            sections.extend(await plugin.sections(db, member, context, today))
    return sorted(sections, key=lambda s: (s.order, s.key))
