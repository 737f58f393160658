"""The check's per-app parts — member lookup, page, log writer — built in the app's lifespan."""

from __future__ import annotations

import os
import weakref
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from server.checks.answer import CheckPage
from server.checks.keyring import Keyring, keyring_for
from server.checks.log import CheckLogWriter
from server.checks.lookup import FactsLookup
from server.config import Settings, load_settings


@dataclass(frozen=True)
class CheckRuntime:
    settings: Settings
    lookup: FactsLookup
    page: CheckPage
    log: CheckLogWriter

    def keyring(self) -> Keyring:
        return keyring_for(self.settings.data_dir)


def of(app: Starlette) -> CheckRuntime:
    found: CheckRuntime = app.state.checks
    return found


def keyring(app: Starlette) -> Keyring:
    return of(app).keyring()


def lookup(app: Starlette) -> FactsLookup:
    return of(app).lookup


def check_page(app: Starlette) -> CheckPage:
    return of(app).page


def log_writer(app: Starlette) -> CheckLogWriter:
    return of(app).log


async def flush_log(app: Starlette) -> int:
    return await of(app).log.flush()


# Code outside a request (the printed auth card's QR) finds its app's settings by engine.
_SETTINGS_BY_ENGINE: weakref.WeakKeyDictionary[Any, Settings] = weakref.WeakKeyDictionary()


def bind_settings(engine: AsyncEngine, settings: Settings) -> None:
    """Auth cards printed through ``engine`` use ``settings`` (its data dir's keys)."""
    _SETTINGS_BY_ENGINE[engine.sync_engine] = settings


def settings_for(bind: Any) -> Settings:
    """The settings of the app whose engine ``bind`` is; the environment's otherwise."""
    engine = getattr(bind, "sync_engine", bind)
    found = _SETTINGS_BY_ENGINE.get(getattr(engine, "engine", engine))
    return found if found is not None else _environment_settings()


_ENVIRONMENT_SETTINGS: dict[tuple[str | None, ...], Settings] = {}


def _environment_settings() -> Settings:
    """Outside an app (commands printing cards): the environment's settings, read once
    per data dir and base URL."""
    key = tuple(os.environ.get(name) for name in ("TESSERA_DATA_DIR", "BASE_URL"))
    found = _ENVIRONMENT_SETTINGS.get(key)
    if found is None:
        found = _ENVIRONMENT_SETTINGS[key] = load_settings()
    return found
