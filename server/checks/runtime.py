"""Per-app parts of the check: keyring, member lookup, page and log writer (made on first use)."""

from __future__ import annotations

import os
import sqlite3
import weakref
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from server.background import AT_SHUTDOWN
from server.checks import connection
from server.checks.answer import CheckPage
from server.checks.keyring import Keyring, keyring_for
from server.checks.log import CheckLogWriter
from server.checks.lookup import FactsLookup
from server.config import Settings, load_settings


def keyring(app: Starlette) -> Keyring:
    return keyring_for(app.state.settings.data_dir)


def sqlite(app: Starlette) -> sqlite3.Connection | None:
    """The check's own connection on SQLite (``server.checks.connection``)."""
    if not hasattr(app.state, "check_sqlite"):
        path = connection.sqlite_file(app.state.settings.database_url)
        app.state.check_sqlite = connection.connect(path) if path else None
    found: sqlite3.Connection | None = app.state.check_sqlite
    return found


def lookup(app: Starlette) -> FactsLookup:
    found: FactsLookup | None = getattr(app.state, "check_lookup", None)
    if found is None:
        found = app.state.check_lookup = FactsLookup(app.state.engine, sqlite(app))
    return found


def check_page(app: Starlette) -> CheckPage:
    found: CheckPage | None = getattr(app.state, "check_page", None)
    if found is None:
        found = app.state.check_page = CheckPage(app.state.templates.env)
    return found


def log_writer(app: Starlette) -> CheckLogWriter:
    found: CheckLogWriter | None = getattr(app.state, "check_log", None)
    if found is None:
        found = app.state.check_log = CheckLogWriter(app.state.sessionmaker, sqlite(app))
    return found


async def flush_log(app: Starlette) -> int:
    return await log_writer(app).flush()


async def flush_log_at_shutdown(app: Starlette) -> None:
    """A clean stop (deploy, restart) writes the checks still waiting in memory."""
    if getattr(app.state, "check_log", None) is not None:
        await flush_log(app)


AT_SHUTDOWN.append(flush_log_at_shutdown)


# Code outside a request (the card payload builder) finds its app's settings by engine.
_SETTINGS_BY_ENGINE: weakref.WeakKeyDictionary[Any, Settings] = weakref.WeakKeyDictionary()


def attach(app: Starlette) -> None:
    """Remember ``app``'s settings for sessions on its engine (called by ``create_app``)."""
    bind_settings(app.state.engine, app.state.settings)


def bind_settings(engine: AsyncEngine, settings: Settings) -> None:
    """Cards built on ``engine`` use ``settings`` (its data dir's keys, its base URL)."""
    _SETTINGS_BY_ENGINE[engine.sync_engine] = settings


def settings_for(bind: Any) -> Settings:
    """The settings of the app whose engine ``bind`` is; the environment's otherwise."""
    engine = getattr(bind, "sync_engine", bind)
    found = _SETTINGS_BY_ENGINE.get(getattr(engine, "engine", engine))
    return found if found is not None else _environment_settings()


_ENVIRONMENT_SETTINGS: dict[tuple[str | None, ...], Settings] = {}


def _environment_settings() -> Settings:
    """Outside an app (commands building cards): the environment's settings, read once
    per data dir and base URL."""
    key = tuple(os.environ.get(name) for name in ("TESSERA_DATA_DIR", "BASE_URL"))
    found = _ENVIRONMENT_SETTINGS.get(key)
    if found is None:
        found = _ENVIRONMENT_SETTINGS[key] = load_settings()
    return found
