"""A database that cannot be reached: PostgreSQL stopped or restarting, the network cut,
the SQLite file gone. Recognised here; answered with 503 ``Retry-After`` by requests
(``server.web.errors``), reported to ``/readyz``, and logged by background loops as one
line when the outage starts and one when it ends (``OutageLog``), not a traceback every
few seconds. Anything else keeps its traceback.
"""

from __future__ import annotations

import logging
import socket
import sqlite3
import time
from collections.abc import Iterator

# PostgreSQL: class 08 (connection exception), and the server shutting down or starting
# up (admin_shutdown, crash_shutdown, cannot_connect_now).
PG_GONE_CODES = frozenset({"57P01", "57P02", "57P03"})
# A background task that keeps failing says so again this often (seconds).
REPEAT_SECONDS = 600.0


def exception_chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and what caused it: SQLAlchemy's ``orig`` first, then ``__cause__`` or
    ``__context__``, each once."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        orig = getattr(current, "orig", None)
        current = (
            (orig if isinstance(orig, BaseException) else None)
            or current.__cause__
            or current.__context__
        )


def sqlstate(exc: BaseException) -> str | None:
    """PostgreSQL's error code on ``exc``: asyncpg's ``sqlstate``, or ``pgcode`` on
    SQLAlchemy's wrapper of it; None for anything else."""
    code = getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None)
    return code if isinstance(code, str) else None


def _gone(exc: BaseException) -> bool:
    if isinstance(exc, ConnectionError | TimeoutError | socket.gaierror):
        return True
    if isinstance(exc, OSError) and "Connect call failed" in str(exc):
        return True
    code = sqlstate(exc)
    if code is not None and (code.startswith("08") or code in PG_GONE_CODES):
        return True
    if type(exc).__name__ == "InterfaceError" and "connection is closed" in str(exc):
        return True  # asyncpg: a pooled connection the server dropped
    if isinstance(exc, sqlite3.OperationalError):
        return getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_CANTOPEN
    return False


class DatabaseUnreachable(ConnectionError):
    """The database could not be reached, as another process (the card rebuilder) saw
    it: its traceback does not come along."""


DATABASE_MODULES = frozenset({"asyncpg", "sqlalchemy", "aiosqlite", "sqlite3"})


def _from_database(exc: BaseException) -> bool:
    """Whether ``exc`` is a database library's, or was raised inside one (a refused
    connection or a timeout raised in asyncpg's code)."""
    if type(exc).__module__.split(".")[0] in DATABASE_MODULES:
        return True
    frame = exc.__traceback__
    while frame is not None:
        module = str(frame.tb_frame.f_globals.get("__name__", ""))
        if module.split(".")[0] in DATABASE_MODULES or module.startswith("server.db."):
            return True
        frame = frame.tb_next
    return False


def unreachable(exc: BaseException) -> str | None:
    """Why the database could not be reached (one line), when ``exc`` — raw or wrapped
    by SQLAlchemy — says so; None for every other error (a mail or wallet service that
    cannot be reached is not the database)."""
    chain = list(exception_chain(exc))
    if not any(isinstance(e, DatabaseUnreachable) or _from_database(e) for e in chain):
        return None
    for link in chain:
        if _gone(link):
            detail = " ".join(str(link).split())[:160]
            return f"{type(link).__name__}: {detail}" if detail else type(link).__name__
    return None


class OutageLog:
    """How a background loop reports its failures: a database outage is one warning when
    it starts (again every ``REPEAT_SECONDS`` while it lasts) and one line when the
    database answers again; any other error is logged with its traceback."""

    def __init__(self, logger: logging.Logger, what: str) -> None:
        self.logger = logger
        self.what = what
        self.since: float | None = None
        self._said = 0.0

    def failed(self, exc: BaseException, message: str) -> None:
        reason = unreachable(exc)
        if reason is None:
            self.logger.error(message, exc_info=exc)
            return
        now = time.monotonic()
        if self.since is None:
            self.since = self._said = now
            self.logger.warning(
                "%s: the database cannot be reached (%s); trying again", self.what, reason
            )
        elif now - self._said >= REPEAT_SECONDS:
            self._said = now
            self.logger.warning(
                "%s: the database still cannot be reached after %d s (%s)",
                self.what,
                now - self.since,
                reason,
            )

    def succeeded(self) -> None:
        if self.since is not None:
            lasted = time.monotonic() - self.since
            self.since = None
            self.logger.info("%s: the database answers again (after %d s)", self.what, lasted)
