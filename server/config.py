"""Process configuration read from the environment (see the README's table)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.engine import URL
from starlette.config import Config, Environ, environ
from starlette.datastructures import Secret

from server.datafiles import make_private
from server.keyfiles import read_private
from server.wallet.config import WalletConfig, load_wallet_config

REBUILDERS = ("process", "thread")
FLAGS = {
    "true": True,
    "1": True,
    "yes": True,
    "on": True,
    "false": False,
    "0": False,
    "no": False,
    "off": False,
}


class ConfigError(ValueError):
    """A variable of the environment that Tessera cannot use: the message names it, says
    what it holds and what it should hold."""


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    secret_key: Secret
    base_url: str
    smtp_url: Secret | None
    mail_from: str
    run_background_jobs: bool = True
    # Bearer token that lets a scraper outside this machine read /metrics.
    metrics_token: Secret | None = None
    # Apple and Google Wallet credentials (``WALLET_*``); none: no wallet is offered.
    wallet: WalletConfig = WalletConfig()
    # Where stale cards are rebuilt: "process" (a child process, another core) or "thread".
    card_rebuilder: str = "process"
    # Tessera's access log (``server.web.access_log``), ``TESSERA_ACCESS_LOG``.
    access_log: bool = True

    @property
    def https(self) -> bool:
        return self.base_url.lower().startswith("https://")  # a scheme has no case

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _secret_key(data_dir: Path) -> str:
    path = data_dir / "secret_key"
    if path.exists():
        return read_private(path)
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.touch(mode=0o600)
    path.write_text(key)
    return key


def load_settings(env: Environ | dict[str, str] | None = None) -> Settings:
    """Build settings from the environment (or a dict, in tests)."""
    config = Config(environ=env if env is not None else environ)
    data_dir = Path(config("TESSERA_DATA_DIR", default="./data")).resolve()
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"TESSERA_DATA_DIR: cannot make the folder {data_dir} ({exc.strerror or exc})"
        ) from None
    # The data directory's path as a URL's (a "?", "#" or "%" in a folder name is escaped).
    default_database = URL.create("sqlite+aiosqlite", database=str(data_dir / "tessera.sqlite3"))
    database_url = config("DATABASE_URL", default=default_database.render_as_string())
    make_private(data_dir, database_url)
    secret_key = config("SECRET_KEY", cast=Secret, default=None) or Secret(_secret_key(data_dir))
    smtp_url = config("SMTP_URL", cast=Secret, default=None) or None
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        secret_key=secret_key,
        base_url=_read(config, "BASE_URL", _base_url, "http://127.0.0.1:8000"),
        smtp_url=smtp_url,
        mail_from=_read(config, "MAIL_FROM", _mail_from, "Tessera <tessera@localhost>"),
        run_background_jobs=_read(config, "TESSERA_BACKGROUND_JOBS", _flag, "true"),
        metrics_token=config("TESSERA_METRICS_TOKEN", cast=Secret, default=None) or None,
        wallet=load_wallet_config(config),
        card_rebuilder=_read(config, "CARD_REBUILDER", _rebuilder, "process"),
        access_log=_read(config, "TESSERA_ACCESS_LOG", _flag, "true"),
    )


def _read(config: Config, name: str, parse: Callable[[str], Any], default: str) -> Any:
    """``name`` from the environment, parsed; a value that does not parse stops the
    command with a ``ConfigError`` naming the variable, its value and what it takes."""
    value = config(name, default=default)
    try:
        return parse(value)
    except ValueError as exc:
        raise ConfigError(f"{name} is {value!r}: {exc}") from None


def _flag(value: str) -> bool:
    try:
        return FLAGS[value.strip().lower()]
    except KeyError:
        raise ValueError("use true or false") from None


def _rebuilder(value: str) -> str:
    if value not in REBUILDERS:
        raise ValueError(f"use {' or '.join(REBUILDERS)}")
    return value


def _mail_from(value: str) -> str:
    """The sender of every mail: an address, with or without a name before it."""
    _name, address = parseaddr(value)
    local, _, domain = address.rpartition("@")
    if not local or not domain or any(c in value for c in "\r\n"):
        raise ValueError('it must be an email address, like "Tessera <members@example.org>"')
    return value.strip()


def _base_url(value: str) -> str:
    """The public address every emailed link and pass is built on: http(s)://host[/path]."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("it must be the server's public address, like https://members.example.org")
    if parts.query or parts.fragment:
        raise ValueError("the public address takes no ?query or #fragment")
    return value.strip().rstrip("/")
