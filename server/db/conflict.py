"""A row another request inserted at the same moment: a unique key already taken.

Code that creates something checks first that it is free; two requests checking at the
same moment both find it free and the second insert fails on the database's unique
index. Where a path serialises its writers (``server.db.transactions.lock_table``,
``server.members.locks``) this cannot happen; anywhere else the request answers 409
"someone else did the same at the same moment; nothing was saved" (``server.web.errors``)
instead of a 500.
"""

from __future__ import annotations

import sqlite3

from server.db.outage import exception_chain

PG_UNIQUE_VIOLATION = "23505"
SQLITE_UNIQUE = (sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY)


def is_duplicate(exc: BaseException) -> bool:
    """Whether ``exc`` (raw or wrapped by SQLAlchemy) is a unique key already taken."""
    for current in exception_chain(exc):
        if isinstance(current, sqlite3.IntegrityError):
            if getattr(current, "sqlite_errorcode", None) in SQLITE_UNIQUE:
                return True
            if "UNIQUE constraint failed" in str(current):
                return True
        code = getattr(current, "sqlstate", None) or getattr(current, "pgcode", None)
        if code == PG_UNIQUE_VIOLATION:
            return True
    return False
