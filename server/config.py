"""Process configuration read from the environment (see the README's table)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from starlette.config import Config, Environ, environ
from starlette.datastructures import Secret

from server.datafiles import make_private
from server.wallet.config import WalletConfig, load_wallet_config

REBUILDERS = ("process", "thread")


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

    @property
    def https(self) -> bool:
        return self.base_url.lower().startswith("https://")  # a scheme has no case

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _secret_key(data_dir: Path) -> str:
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.touch(mode=0o600)
    path.write_text(key)
    return key


def load_settings(env: Environ | dict[str, str] | None = None) -> Settings:
    """Build settings from the environment (or a dict, in tests)."""
    config = Config(environ=env if env is not None else environ)
    data_dir = Path(config("TESSERA_DATA_DIR", default="./data")).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    database_url = config(
        "DATABASE_URL", default=f"sqlite+aiosqlite:///{data_dir / 'tessera.sqlite3'}"
    )
    make_private(data_dir, database_url)
    secret_key = config("SECRET_KEY", cast=Secret, default=None) or Secret(_secret_key(data_dir))
    smtp_url = config("SMTP_URL", cast=Secret, default=None) or None
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        secret_key=secret_key,
        base_url=config("BASE_URL", default="http://127.0.0.1:8000").rstrip("/"),
        smtp_url=smtp_url,
        mail_from=config("MAIL_FROM", default="Tessera <tessera@localhost>"),
        run_background_jobs=config("TESSERA_BACKGROUND_JOBS", cast=bool, default=True),
        metrics_token=config("TESSERA_METRICS_TOKEN", cast=Secret, default=None) or None,
        wallet=load_wallet_config(config),
        card_rebuilder=config("CARD_REBUILDER", cast=_rebuilder, default="process"),
    )


def _rebuilder(value: str) -> str:
    if value not in REBUILDERS:
        raise ValueError(f"CARD_REBUILDER must be one of {', '.join(REBUILDERS)}, not {value!r}")
    return value
