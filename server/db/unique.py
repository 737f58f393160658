"""A unique constraint that refused a row: recognised here, answered with 409 by requests
(``server.web.errors``).

Forms check for a taken name, email or code before they write, but on PostgreSQL two
requests can both pass that check at the same moment (each reads before the other
commits); the second one's insert then fails on the unique index. SQLite takes its write
lock at BEGIN, so there the second check already sees the first row.
"""

from __future__ import annotations

import sqlite3

from server.db.outage import exception_chain, sqlstate

PG_UNIQUE_VIOLATION = "23505"
SQLITE_UNIQUE_CODES = frozenset({2067, 1555})  # SQLITE_CONSTRAINT_UNIQUE, _PRIMARYKEY


def is_unique_violation(exc: BaseException) -> bool:
    """Whether ``exc`` (raw or wrapped by SQLAlchemy) is a unique constraint's refusal."""
    for current in exception_chain(exc):
        if isinstance(current, sqlite3.IntegrityError):
            if getattr(current, "sqlite_errorcode", None) in SQLITE_UNIQUE_CODES:
                return True
            if "UNIQUE constraint failed" in str(current):
                return True
        if sqlstate(current) == PG_UNIQUE_VIOLATION:
            return True
    return False
