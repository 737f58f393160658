"""members: a trigram full-text table for the member search on SQLite

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-30 22:15:00

On SQLite the search looked for each word with a ``LIKE`` per searched column: a scan of
the register for the page and another for its count (about 230 ms at 100,000 members on
a small machine). Under a busy day the officers' searches alone took some 40 % of a core
from a server that serves the cards and the checks on the same two cores.

SQLite's FTS5 ``trigram`` tokenizer indexes substrings for ``LIKE``: one FTS5 table
``member_search_text`` holds, per member (its rowid is the member's id), the searched
columns joined by spaces, kept current by triggers on ``members`` (an insert, a change of
a searched column, a delete), so that every writer — the ORM, raw SQL, the bench's seeder —
keeps it whole. ``server.members.search.word_found`` finds a word's members there (1–2 ms).
PostgreSQL has 0019's trigram index instead; nothing happens there. An SQLite without
FTS5's trigram tokenizer (older than 3.34) gets a plain table of the same shape: the same
search, scanning one column.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | Sequence[str] | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# server.members.search.SEARCH_TABLE and SEARCHED, as of this revision.
TABLE = "member_search_text"
COLUMNS = ("sca_name", "first_name", "last_name", "email", "membership_number")
TRIGGERS = ("member_search_insert", "member_search_update", "member_search_delete")

log = logging.getLogger("alembic.runtime.migration")


def _words(row: str) -> str:
    return " || ' ' || ".join(f"coalesce({row}.{c}, '')" for c in COLUMNS)


def trigram_tables() -> bool:
    """Whether this Python's SQLite has FTS5 with the ``trigram`` tokenizer (SQLite 3.34+,
    FTS5 built in: Debian 11+, Ubuntu 22.04+, python.org's builds)."""
    try:
        with contextlib.closing(sqlite3.connect(":memory:")) as probe:
            probe.execute("CREATE VIRTUAL TABLE probe USING fts5(words, tokenize = 'trigram')")
    except sqlite3.OperationalError:
        return False
    return True


def create_search_table(execute: Callable[[str], object], *, trigrams: bool) -> None:
    """The search table, filled and kept by triggers: FTS5 with trigrams where SQLite has
    them; otherwise a plain table of the same shape, which the search reads with the same
    SQL by scanning it (one column, rather than five of the register)."""
    if trigrams:
        execute(f"CREATE VIRTUAL TABLE {TABLE} USING fts5(words, tokenize = 'trigram')")
    else:
        log.warning("this SQLite has no FTS5 trigram tokenizer: the member search will scan")
        execute(f"CREATE TABLE {TABLE} (rowid INTEGER PRIMARY KEY, words TEXT NOT NULL)")
    execute(f"INSERT INTO {TABLE} (rowid, words) SELECT id, {_words('members')} FROM members")
    execute(
        f"CREATE TRIGGER member_search_insert AFTER INSERT ON members BEGIN "
        f"INSERT INTO {TABLE} (rowid, words) VALUES (new.id, {_words('new')}); END"
    )
    execute(
        f"CREATE TRIGGER member_search_update AFTER UPDATE OF {', '.join(COLUMNS)} ON members "
        f"BEGIN DELETE FROM {TABLE} WHERE rowid = old.id; "
        f"INSERT INTO {TABLE} (rowid, words) VALUES (new.id, {_words('new')}); END"
    )
    execute(
        f"CREATE TRIGGER member_search_delete AFTER DELETE ON members BEGIN "
        f"DELETE FROM {TABLE} WHERE rowid = old.id; END"
    )


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    create_search_table(lambda sql: bind.execute(sa.text(sql)), trigrams=trigram_tables())


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    for trigger in TRIGGERS:
        bind.execute(sa.text(f"DROP TRIGGER IF EXISTS {trigger}"))
    bind.execute(sa.text(f"DROP TABLE IF EXISTS {TABLE}"))
