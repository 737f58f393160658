"""Lower case in SQL that means the same on SQLite and PostgreSQL.

SQLite's built-in ``lower`` folds only ASCII letters (``lower('ÉVA')`` is ``'Éva'``);
PostgreSQL's folds every letter (in a UTF-8 database). A comparison such as "the same
email, ignoring case" therefore found "ÉVA@example.org" for "éva@example.org" on
PostgreSQL and not on SQLite. ``lowered(x)`` is ``lower(x)`` on PostgreSQL and, on SQLite,
``tessera_lower(x)``: Python's ``str.lower``, registered on every connection
(``register``) — so it also equals a value Python lowered (``Member.email_key``).
SQLite's own ``lower`` is left alone: indexes built on it stay as they are.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy import ColumnElement, String, func
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import GenericFunction

SQLITE_NAME = "tessera_lower"


class lowered(GenericFunction[str]):  # noqa: N801 - named like SQL's functions
    """``x`` in lower case, every letter, on both databases."""

    type = String()
    inherit_cache = True


@compiles(lowered)
def _lower(element: lowered, compiler: SQLCompiler, **kw: Any) -> str:
    return f"lower({compiler.process(element.clauses, **kw)})"


@compiles(lowered, "sqlite")
def _python_lower(element: lowered, compiler: SQLCompiler, **kw: Any) -> str:
    return f"{SQLITE_NAME}({compiler.process(element.clauses, **kw)})"


def same_ignoring_case(
    column: ColumnElement[str] | QueryableAttribute[str], value: str
) -> ColumnElement[bool]:
    """``column`` equals ``value`` ignoring case, alike on both databases. For an ASCII
    ``value`` SQLite's built-in ``lower`` (in C, twice as fast over a whole table) is
    enough: only ASCII text can equal it ignoring case."""
    lower = func.lower if value.isascii() else lowered
    return lower(column) == lower(value)


def _lower_text(value: str | bytes | int | float | None) -> str | bytes | int | float | None:
    return value.lower() if isinstance(value, str) else value


def register(connection: sqlite3.Connection) -> None:
    """Make ``tessera_lower`` known to this SQLite connection."""
    connection.create_function(SQLITE_NAME, 1, _lower_text, deterministic=True)
