"""Finding, installing and enabling plugins (the contract is in ``server.plugins.contract``).

``install`` registers a plugin's settings, permissions, models, nightly jobs, demo step
and navigation links with the core registries; ``uninstall`` takes them back (tests).
Whether a plugin is *enabled* is decided per request from the ``enabled_plugins``
setting, so switching it on or off needs no restart.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib
import pkgutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute, Host, Mount, Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from server.auth import permissions
from server.demo import registry as demo_registry
from server.members.models import Member
from server.nightly import registry as nightly
from server.plugins.contract import Plugin, Section, SectionContext
from server.settings import registry as settings_registry
from server.settings.store import get_setting
from server.web import navigation

PLUGIN_DIR = Path(__file__).resolve().parent
DEMO_ORDER = 30
BULK_CHUNK = (
    500  # members per bulk_sections call  # after core members (10) and other core demo steps (20s)
)
_PLUGINS: dict[str, Plugin] = {}
_discovered = False


def install(plugin: Plugin) -> None:
    """Make a plugin available: register its settings, permissions, models, jobs and links."""
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
                f"{plugin.key}.{job.name}", job.order, _job_when_enabled(plugin, job)
            )
        )
    if plugin.demo is not None:
        demo_registry.register(f"plugin.{plugin.key}", DEMO_ORDER, _demo_when_enabled(plugin))
    for link in plugin.nav_links:
        navigation.add(
            dataclasses.replace(link, plugin=None if plugin.always_enabled else plugin.key)
        )
    for route in plugin.routes:
        _gate(route, plugin.key)


def uninstall(key: str) -> None:
    """Forget a plugin and everything ``install`` registered for it (tests)."""
    plugin = _PLUGINS.pop(key, None)
    if plugin is None:
        return
    for definition in plugin.settings:
        settings_registry.unregister(definition.key)
    for permission in plugin.permissions:
        permissions.unregister(permission.key)
    for job in plugin.nightly_jobs:
        nightly.unregister(f"{plugin.key}.{job.name}")
    demo_registry.unregister(f"plugin.{plugin.key}")
    for link in plugin.nav_links:
        navigation.remove(link.href)


class _EnabledOnly:
    """ASGI wrapper: the plugin's route answers 404 while the plugin is disabled."""

    def __init__(self, key: str, app: ASGIApp) -> None:
        self.key = key
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async with scope["app"].state.sessionmaker() as db:
            on = await is_enabled(db, self.key)
        if not on:
            raise HTTPException(404)
        await self.app(scope, receive, send)


def _gate(route: BaseRoute, key: str) -> None:
    if isinstance(route, Route | WebSocketRoute | Mount | Host) and not isinstance(
        route.app, _EnabledOnly
    ):
        route.app = _EnabledOnly(key, route.app)


def _job_when_enabled(plugin: Plugin, job: nightly.NightlyJob) -> nightly.JobFunc:
    async def run(db: AsyncSession, today: dt.date) -> str:
        if not await is_enabled(db, plugin.key):
            return "skipped (plugin disabled)"
        return await job.run(db, today)

    return run


def _demo_when_enabled(plugin: Plugin) -> demo_registry.DemoStep:
    async def run(db: AsyncSession, demo: demo_registry.DemoData) -> None:
        if plugin.demo is not None and await is_enabled(db, plugin.key):
            await plugin.demo(db, demo)

    return run


def discover() -> list[Plugin]:
    """Install every package under ``server/plugins/`` that exposes ``plugin``."""
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
    """Every installed plugin, enabled or not, by key."""
    return sorted(_PLUGINS.values(), key=lambda p: p.key)


def migration_folders() -> list[Path]:
    """Installed plugins' Alembic folders (``server/plugins/*/migrations`` are found anyway)."""
    return [p.migrations for p in available() if p.migrations is not None]


async def enabled_keys(db: AsyncSession) -> set[str]:
    value = await get_setting(db, "enabled_plugins")
    keys = set(value or [])
    return keys | {p.key for p in _PLUGINS.values() if p.always_enabled}


async def is_enabled(db: AsyncSession, key: str) -> bool:
    return key in _PLUGINS and key in await enabled_keys(db)


def enabled_by(site: Mapping[str, Any]) -> list[Plugin]:
    """``enabled`` from app settings already read."""
    discover()
    keys = set(site.get("enabled_plugins") or [])
    keys |= {p.key for p in _PLUGINS.values() if p.always_enabled}
    return [p for p in available() if p.key in keys]


async def enabled(db: AsyncSession) -> list[Plugin]:
    # any process (a command, the bench's seeder) sees the same plugins as the app
    return enabled_by({"enabled_plugins": await get_setting(db, "enabled_plugins")})


async def collect_sections(
    db: AsyncSession, member: Member, context: SectionContext, today: dt.date
) -> list[Section]:
    """Every enabled plugin's visible sections for ``member`` in ``context``, by (order, key)."""
    sections: list[Section] = []
    for plugin in await enabled(db):
        if plugin.sections is not None:
            sections.extend(await plugin.sections(db, member, context, today))
    return _ordered(sections)


def _ordered(sections: list[Section]) -> list[Section]:
    return sorted((s for s in sections if s.visible), key=lambda s: (s.order, s.key))


async def collect_sections_many(
    db: AsyncSession,
    members: Sequence[Member],
    context: SectionContext,
    today: dt.date,
    *,
    site: Mapping[str, Any] | None = None,
) -> dict[int, list[Section]]:
    """``collect_sections`` for many members (batch printing), through ``bulk_sections``
    where a plugin has it. ``site``: the app settings, when the caller has read them
    (which plugins are enabled is one of them)."""
    return (await collect_sections_in(db, members, (context,), today, site=site))[context]


async def collect_sections_in(
    db: AsyncSession,
    members: Sequence[Member],
    contexts: Sequence[SectionContext],
    today: dt.date,
    *,
    site: Mapping[str, Any] | None = None,
) -> dict[SectionContext, dict[int, list[Section]]]:
    """``collect_sections_many`` in several contexts at once: a plugin whose sections are
    the same in every context (``same_sections_in_every_context``) is asked once."""
    gathered: dict[SectionContext, dict[int, list[Section]]] = {
        context: {m.id: [] for m in members} for context in contexts
    }
    plugins = enabled_by(site) if site is not None else await enabled(db)
    for plugin in plugins:
        alike = plugin.same_sections_in_every_context
        for context in contexts[:1] if alike else contexts:
            found = await _plugin_sections(plugin, db, members, context, today)
            for shown_in in contexts if alike else (context,):
                for member_id, sections in found.items():
                    gathered[shown_in][member_id].extend(sections)
    return {
        context: {key: _ordered(found) for key, found in by_member.items()}
        for context, by_member in gathered.items()
    }


async def _plugin_sections(
    plugin: Plugin,
    db: AsyncSession,
    members: Sequence[Member],
    context: SectionContext,
    today: dt.date,
) -> dict[int, list[Section]]:
    found: dict[int, list[Section]] = {m.id: [] for m in members}
    if plugin.bulk_sections is not None:
        for start in range(0, len(members), BULK_CHUNK):
            chunk = members[start : start + BULK_CHUNK]
            bulk = await plugin.bulk_sections(db, chunk, context, today)
            for member in chunk:
                found[member.id].extend(bulk.get(member.id, ()))
    elif plugin.sections is not None:
        for member in members:
            found[member.id].extend(await plugin.sections(db, member, context, today))
    return found
