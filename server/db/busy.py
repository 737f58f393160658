"""A database too busy to answer in time: recognised here, waited out by background work,
answered with 503 ``Retry-After`` by requests (``server.web.errors``)."""

from __future__ import annotations

import asyncio
import logging
import random
import sqlite3
from collections.abc import Awaitable, Callable
from typing import TypeVar

from server.db.outage import exception_chain, sqlstate

log = logging.getLogger("tessera.db")
T = TypeVar("T")

# PostgreSQL: lock_not_available (lock_timeout), deadlock_detected, serialization_failure.
PG_BUSY_CODES = frozenset({"55P03", "40P01", "40001"})
RETRY_AFTER_SECONDS = 2


def is_busy(exc: BaseException) -> bool:
    """Whether ``exc`` (raw or wrapped by SQLAlchemy) says the database was busy."""
    for current in exception_chain(exc):
        if isinstance(current, sqlite3.OperationalError):
            code = getattr(current, "sqlite_errorcode", None)
            if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                return True
            text = str(current)
            if "database is locked" in text or "database table is locked" in text:
                return True
        if sqlstate(current) in PG_BUSY_CODES:
            return True
    return False


async def retry_when_busy(
    work: Callable[[], Awaitable[T]],
    *,
    what: str,
    attempts: int = 8,
    first_wait: float = 0.05,
) -> T:
    """Run ``work`` (one whole transaction); when the database is busy, wait a little
    longer each time and run it again. Other errors, and the last busy one, propagate."""
    wait = first_wait
    for attempt in range(1, attempts + 1):
        try:
            return await work()
        except Exception as exc:
            if attempt == attempts or not is_busy(exc):
                raise
            log.info("%s: database busy (attempt %d of %d); retrying", what, attempt, attempts)
        await asyncio.sleep(wait * (1 + random.random()))
        wait = min(wait * 2, 2.0)
    raise AssertionError("unreachable")
