"""What went wrong when a command could not start, in a line or two, without a traceback.

``manage.py`` catches what escapes a command and prints ``explain(exc, url)``: what is
wrong and what to do, then exits 1. ``manage.py --debug COMMAND`` shows the traceback.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import socket
from pathlib import Path

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url

from server.config import ConfigError
from server.db.busy import is_busy
from server.db.outage import exception_chain
from server.db.target import BadDatabaseURL
from server.keyfiles import KeyFileProblem
from server.mail.delivery import BadSmtpURL
from server.migrate import SchemaNewer
from server.wallet.config import WalletConfigError

SUPPORTED = (
    "use sqlite+aiosqlite:///path/to/tessera.sqlite3 or postgresql+asyncpg://user:pass@host/db"
)


def _where(url: str) -> str:
    try:
        parsed = make_url(url)
    except Exception:
        return "the database"
    if parsed.get_backend_name() == "sqlite":
        return f"the SQLite database {parsed.database or '(in memory)'}"
    return f"PostgreSQL at {parsed.host or 'localhost'}:{parsed.port or 5432}"


def _database_name(url: str) -> str:
    try:
        return make_url(url).database or "?"
    except Exception:
        return "?"


def _disk_full(chain: list[BaseException], text: str, database_url: str) -> str | None:
    """A full disk (or a failing one) under the SQLite database or the data directory."""
    no_space = any(isinstance(e, OSError) and e.errno == errno.ENOSPC for e in chain)
    if not (no_space or "database or disk is full" in text or "disk I/O error" in text):
        return None
    folder = Path(os.environ.get("TESSERA_DATA_DIR", "./data")).resolve()
    with contextlib.suppress(Exception):
        if make_url(database_url).get_backend_name() == "sqlite":
            folder = Path(make_url(database_url).database or "").resolve().parent
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        free = -1
    if no_space or "database or disk is full" in text or 0 <= free < 1 << 20:
        left = f" ({free // 1024} KB free)" if free >= 0 else ""
        return (
            f"The disk holding {folder} is full{left}: nothing could be written.\n"
            "Free some space (or move TESSERA_DATA_DIR to a larger disk), then run it again."
        )
    return (
        f"SQLite could not write to {folder} (disk I/O error).\n"
        "Check the disk and file system holding it: full, mounted read-only or failing?"
    )


def explain(error: BaseException, database_url: str = "") -> str:
    """One or two lines: what is wrong and what to do."""
    chain = list(exception_chain(error))
    text = " ".join(str(e) for e in chain)
    for e in chain:
        if isinstance(e, SchemaNewer | KeyFileProblem):
            return str(e)
        if isinstance(e, ConfigError):
            return f"{str(e).rstrip('.')}.\nFix it in the environment (the README's Configuration table lists them)."
        if isinstance(e, WalletConfigError):
            return (
                f'{e}.\nFix the WALLET_* variables (the README\'s "Wallet passes"), or unset '
                "them to offer no wallet."
            )
        if isinstance(e, BadSmtpURL):
            return f"{e}.\nFix SMTP_URL, or unset it to keep mail in the outbox (and the console)."
        if isinstance(e, BadDatabaseURL):
            return f"{e}\nFix it: {SUPPORTED}."
        if isinstance(e, sa_exc.ArgumentError) and "Could not parse" in str(e):
            return f"DATABASE_URL is not a database URL ({database_url!r}).\nFix it: {SUPPORTED}."
        if isinstance(e, sa_exc.NoSuchModuleError | ModuleNotFoundError) or (
            isinstance(e, sa_exc.InvalidRequestError) and "async driver" in str(e)
        ):
            scheme = database_url.split(":", 1)[0]
            return f"DATABASE_URL uses {scheme!r}, which Tessera cannot use.\nFix it: {SUPPORTED}."
    if is_busy(error):
        return (
            f"{_where(database_url)} stayed busy: another process kept it locked for longer "
            "than Tessera waits, and nothing of that step was saved.\n"
            "Run the command again in a moment (is a long import, restore or other command running?)."
        )
    if "does not exist" in text and "database" in text:
        name = _database_name(database_url)
        return (
            f"The PostgreSQL database {name!r} does not exist.\n"
            f"Create it (createdb {name}) or fix DATABASE_URL."
        )
    if "password authentication failed" in text or "role" in text and "does not exist" in text:
        return (
            f"{_where(database_url)} refused the login.\n"
            "Check the user name and password in DATABASE_URL."
        )
    if "rejected SSL upgrade" in text:
        return (
            f"{_where(database_url)} does not offer SSL, which DATABASE_URL asks for "
            "(?ssl= or ?sslmode=).\n"
            "Turn SSL on in PostgreSQL, or ask for ?sslmode=prefer (or disable) in DATABASE_URL."
        )
    for e in chain:
        if isinstance(e, socket.gaierror):
            return (
                f"Cannot find the database host: {_where(database_url)} ({e.strerror}).\n"
                "Check the host name in DATABASE_URL."
            )
        if isinstance(e, ConnectionRefusedError) or (
            isinstance(e, OSError) and "Connect call failed" in str(e)
        ):
            return (
                f"Cannot reach {_where(database_url)}: connection refused.\n"
                "Is the server running and listening there? Check DATABASE_URL."
            )
        if isinstance(e, TimeoutError):
            return (
                f"{_where(database_url)} did not answer in time.\n"
                "Check that it is running and reachable (firewall, host, port)."
            )
    full = _disk_full(chain, text, database_url)
    if full:
        return full
    if "unable to open database file" in text:
        path = Path(make_url(database_url).database or "")
        if not path.parent.is_dir():
            return (
                f"Cannot open the SQLite database {path}: the folder {path.parent} does not exist.\n"
                "Create the folder, or point DATABASE_URL (or TESSERA_DATA_DIR) elsewhere."
            )
        return (
            f"Cannot open the SQLite database {path} (permissions?).\n"
            "Tessera needs to read and write the file and its folder."
        )
    for e in chain:
        if isinstance(e, PermissionError):
            return (
                f"Permission denied: {e.filename or e}.\n"
                "Tessera needs to write its data directory (TESSERA_DATA_DIR)."
            )
    first = (str(error).strip().splitlines() or [""])[0][:300]
    return (
        f"Tessera could not start: {type(error).__name__}: {first}\n"
        "Run the same command with --debug to see where it happened."
    )
