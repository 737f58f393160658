"""The migrations create exactly the schema the models describe, on both backends; 0008
and 0009 step down and back up with rows in place."""

from __future__ import annotations

import os
import warnings

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker

import server.models  # noqa: F401
from server.applicants.models import Applicant, RecapEntry
from server.checks.models import CheckEntry
from server.database import Base, utcnow
from server.db.engine import make_engine
from server.members.models import Member
from server.members.search import SEARCH_TABLE
from server.migrate import alembic_config
from server.plugins import registry as plugin_registry
from tests.live import run_manage, run_manage_each

# Indexes on expressions, which SQLAlchemy cannot reflect from SQLite (it warns and skips
# them): compared by their definition below instead.
EXPRESSION_INDEXES = {"ix_members_name_order": ("members", "lower(sca_name)")}


def _not_an_expression_index(obj, name, type_, reflected, compare_to) -> bool:
    """Leaves out the expression indexes, PostgreSQL's trigram index (made by 0019 only
    where ``pg_trgm`` can be created) and SQLite's trigram search table with FTS5's own
    tables beside it (0020): none of them are models."""
    if type_ == "table" and name.startswith(SEARCH_TABLE):
        return False
    return not (type_ == "index" and name in (*EXPRESSION_INDEXES, "ix_members_search_words"))


async def test_migrated_schema_matches_models(database_url):
    plugin_registry.discover()  # plugin models join Base.metadata
    engine = make_engine(database_url)
    async with engine.connect() as conn:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression")
            warnings.filterwarnings("ignore", "autogenerate skipping metadata-specified expr")
            diff = await conn.run_sync(
                lambda c: compare_metadata(
                    MigrationContext.configure(
                        c,
                        opts={"compare_type": True, "include_object": _not_an_expression_index},
                    ),
                    Base.metadata,
                )
            )
        for name, (table, expression) in EXPRESSION_INDEXES.items():
            query = (
                "SELECT sql FROM sqlite_master WHERE name = :name AND tbl_name = :table"
                if engine.dialect.name == "sqlite"
                else "SELECT indexdef FROM pg_indexes WHERE indexname = :name "
                "AND tablename = :table"
            )
            definition = (await conn.execute(text(query), {"name": name, "table": table})).scalar()
            assert definition is not None, name
            # PostgreSQL spells it lower((sca_name)::text)
            spelled = definition.replace("::text", "").replace("(", "").replace(")", "")
            assert expression.replace("(", "").replace(")", "") in spelled, definition
    await engine.dispose()
    assert diff == []


def _alembic(database_url: str, command_name: str, revision: str):
    """Run an Alembic command on the connection the coroutine below hands it."""

    def run(connection) -> None:
        config = alembic_config(database_url)
        config.attributes["connection"] = connection
        getattr(command, command_name)(config, revision)

    return run


def _applicant_columns(connection) -> set[str]:
    return {c["name"] for c in inspect(connection).get_columns("applicants")}


async def test_decline_migration_downgrades_and_upgrades_with_rows_in_place(database_url):
    """0008 on a database where an applicant is referenced (the recap) and one is declined.

    SQLite refuses to drop a table that other rows reference, so this also guards
    against a migration that rebuilds ``applicants`` by copying it.
    """
    engine = make_engine(database_url)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    async with sessions() as db:
        member = Member(email="m@example.org", email_key="m@example.org", sca_name="M")
        db.add(member)
        await db.flush()
        linked = Applicant(member_id=member.id, member_code="ACME")
        declined = Applicant(
            email="spam@example.org",
            declined_at=utcnow(),
            declined_by_id=member.id,
            decline_reason="Spam",
        )
        db.add_all([linked, declined])
        await db.flush()
        db.add(RecapEntry(member_id=member.id, applicant_id=linked.id))
        await db.commit()
    async with engine.connect() as conn:
        await conn.run_sync(_alembic(database_url, "downgrade", "0007"))
        await conn.commit()
        assert "declined_at" not in await conn.run_sync(_applicant_columns)
        rows = (await conn.execute(text("SELECT email FROM applicants ORDER BY id"))).all()
        assert [r.email for r in rows] == ["", "spam@example.org"]
        await conn.run_sync(_alembic(database_url, "upgrade", "heads"))
        await conn.commit()
        rows = (
            await conn.execute(text("SELECT member_id, decline_reason FROM applicants ORDER BY id"))
        ).all()
        assert [tuple(r) for r in rows] == [(member.id, ""), (None, "")]
        recap = await conn.scalar(text("SELECT applicant_id FROM new_member_recap"))
        assert recap == linked.id
    await engine.dispose()
    await test_migrated_schema_matches_models(database_url)


async def test_check_log_index_migration_keeps_rows_and_uploaded_refs_unique(database_url):
    """0009 steps down and back up with checks in the log; afterwards an uploaded entry's
    ``client_ref`` is still unique while online checks (no ref) are not limited."""
    engine = make_engine(database_url)
    moment = utcnow()

    def entry(ref: str | None) -> CheckEntry:
        return CheckEntry(
            checked_at=moment, recorded_at=moment, result="ok", reason="", client_ref=ref
        )

    sessions = async_sessionmaker(engine, expire_on_commit=False)
    async with sessions() as db:
        db.add_all([entry(None), entry(None), entry("scanner-1")])
        await db.commit()
    async with engine.connect() as conn:
        await conn.run_sync(_alembic(database_url, "downgrade", "0008"))
        await conn.commit()
        await conn.run_sync(_alembic(database_url, "upgrade", "heads"))
        await conn.commit()
        refs = (await conn.execute(text("SELECT client_ref FROM check_log ORDER BY id"))).all()
        assert [r.client_ref for r in refs] == [None, None, "scanner-1"]
    async with sessions() as db:
        db.add_all([entry(None), entry(None)])
        await db.commit()
        db.add(entry("scanner-1"))
        with pytest.raises(IntegrityError):
            await db.commit()
    await engine.dispose()
    await test_migrated_schema_matches_models(database_url)


MANY_MEMBERS = """
INSERT INTO members (public_id, sca_name, first_name, middle_name, last_name, email,
    street_address, city, state, zip, phone, status, deactivation_reason, public_notes,
    private_notes, additional_info, is_superuser, is_staff, failed_login_attempts,
    created_at, modified_at, version, membership_number)
SELECT 'p' || n, 'Person' || n, 'First' || n, '', 'Last' || n, 'm' || n || '@example.org',
    '', '', '', '', '', 'verified', '', '', '', '{}', false, false, 0, now(), now(), 1, 'D' || n
FROM generate_series(1, 20000) AS n
"""
MANY_MEMBERS_SQLITE = (
    "WITH RECURSIVE numbers(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM numbers "
    "WHERE n < 20000) "
    + MANY_MEMBERS.replace("now()", "CURRENT_TIMESTAMP").split("FROM generate_series")[0]
    + "FROM numbers"
)


@pytest.mark.postgres_only
@pytest.mark.parametrize("word", ["Person12345", "m12345@exa", "D1234", "LAST1999"])
async def test_the_member_search_reads_its_trigram_index_on_postgresql(database_url, word):
    """0019: the search as it runs (a word in any of five columns, the page in name order
    with its count) is served by the one ``pg_trgm`` index over the columns — chosen by
    the planner itself, not forced. With one index per column (0018) it scanned."""
    import datetime as dt

    from sqlalchemy import func
    from sqlalchemy.dialects import postgresql

    from server.members.search import MemberSearch, filtered, ordered

    engine = make_engine(database_url)
    async with engine.begin() as conn:
        await conn.execute(text(MANY_MEMBERS))
        await conn.execute(text("ANALYZE members"))
        made = dict((await conn.execute(text("SELECT indexname, indexdef FROM pg_indexes"))).all())
        assert "gin_trgm_ops" in made["ix_members_search_words"]
        assert not [name for name in made if name.startswith("ix_members_trgm_")]
        criteria = MemberSearch(q=word)
        query = ordered(filtered(criteria, [], dt.date(2026, 11, 30)), criteria)
        query = query.add_columns(func.count().over()).limit(50)
        compiled = query.compile(
            dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}
        )
        statement = str(compiled).replace("%%", "%")
        plan = "\n".join((await conn.execute(text(f"EXPLAIN {statement}"))).scalars())
        assert "ix_members_search_words" in plan, plan
        assert "Seq Scan" not in plan, plan
        found = (await conn.execute(text(statement))).all()
        assert found and all(word.lower() in " ".join(map(str, row)).lower() for row in found)
        await conn.rollback()
    await engine.dispose()


async def test_the_member_search_reads_its_trigram_table_on_sqlite(database_url, sqlite_only):
    """0020: on SQLite each word of the search is looked up in the FTS5 trigram table
    (its index, not a scan of the register), which triggers keep current through new
    members, changed names and deleted rows; a ``%`` or ``_`` typed is found as itself."""
    import datetime as dt

    from sqlalchemy.dialects import sqlite

    from server.members.search import MemberSearch, filtered, ordered

    def search(word: str):
        criteria = MemberSearch(q=word)
        query = ordered(filtered(criteria, [], dt.date(2026, 11, 30)), criteria)
        return query.with_only_columns(Member.sca_name).limit(50)

    engine = make_engine(database_url)
    async with engine.begin() as conn:
        await conn.execute(text(MANY_MEMBERS_SQLITE))
        compiled = search("Person12345").compile(
            dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}
        )
        plan = (await conn.execute(text(f"EXPLAIN QUERY PLAN {compiled}"))).all()
        steps = " | ".join(row[-1] for row in plan)
        assert f"SCAN {SEARCH_TABLE} VIRTUAL TABLE INDEX 0:L" in steps, steps
        assert "SCAN members" not in steps, steps

        async def names(word: str) -> list[str]:
            return list((await conn.execute(search(word))).scalars())

        assert await names("person12345") == ["Person12345"]
        assert await names("M1999@EXA") == ["Person1999"]
        await conn.execute(text("UPDATE members SET sca_name = 'Ulla 50%_off' WHERE id = 3"))
        assert await names("ulla") == ["Ulla 50%_off"]
        assert "Person3" not in await names("Person3")
        assert await names("50%_o") == ["Ulla 50%_off"]
        assert await names("50%xo") == []  # the % typed is a percent sign, not a wildcard
        assert await names("5_%") == []
        await conn.execute(text("DELETE FROM members WHERE id = 3"))
        assert await names("ulla") == []
        assert (await conn.execute(text(f"SELECT count(*) FROM {SEARCH_TABLE}"))).scalar() == 19999
    await engine.dispose()


@pytest.mark.parametrize("trigrams", [True, False])
def test_the_search_table_finds_the_same_members_with_or_without_trigrams(trigrams):
    """0020 on an SQLite without FTS5's trigram tokenizer makes a plain table instead:
    the search's very SQL finds the same members in it, and the triggers keep it."""
    import contextlib
    import importlib.util
    import sqlite3
    from pathlib import Path

    from sqlalchemy.dialects import sqlite

    from server.members.search import word_found

    path = Path(__file__).parent.parent / "server/migrations/versions/0020_member_search_text.py"
    spec = importlib.util.spec_from_file_location("migration_0020", path)
    assert spec is not None and spec.loader is not None
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    assert migration.trigram_tables()  # this machine's SQLite has them (the default path)

    def ids(connection: sqlite3.Connection, word: str) -> list[int]:
        escaped = word.replace("%", "\\%")
        exact, loose = f"%{escaped}%", f"%{word}%"
        sql = str(word_found(exact, loose).compile(dialect=sqlite.dialect()))
        query = f"SELECT id FROM members WHERE {sql} ORDER BY id"
        return [row[0] for row in connection.execute(query, (loose, exact))]

    with contextlib.closing(sqlite3.connect(":memory:")) as connection:
        connection.execute(
            "CREATE TABLE members (id INTEGER PRIMARY KEY, sca_name TEXT, first_name TEXT, "
            "last_name TEXT, email TEXT, membership_number TEXT)"
        )
        connection.execute("INSERT INTO members VALUES (1, 'Ulf', 'A', 'B', 'u@x.org', '100%')")
        migration.create_search_table(connection.execute, trigrams=trigrams)
        connection.execute("INSERT INTO members VALUES (2, 'Uma', 'C', 'D', 'um@x.org', '1007')")
        assert ids(connection, "U") == [1, 2]
        assert ids(connection, "um@X") == [2]
        assert ids(connection, "100%") == [1]
        connection.execute("UPDATE members SET sca_name = 'Ragna' WHERE id = 1")
        assert ids(connection, "ragn") == [1] and ids(connection, "ulf") == []
        connection.execute("DELETE FROM members WHERE id = 2")
        assert ids(connection, "uma") == []


async def test_migrate_says_what_it_did(tmp_path):
    """``migrate`` said "Database is up to date." whatever it had done: an operator
    upgrading could not tell whether a migration ran."""
    env = {**os.environ, "TESSERA_DATA_DIR": str(tmp_path)}
    env.pop("DATABASE_URL", None)
    first = run_manage(env, "migrate")
    assert first.returncode == 0, first.stderr
    url = f"sqlite+aiosqlite:///{tmp_path / 'tessera.sqlite3'}"
    script = ScriptDirectory.from_config(alembic_config(url))
    heads = sorted(script.get_heads())  # the core's and each plugin's
    assert f"migrated from an empty database to {', '.join(heads)};" in first.stdout
    latest = script.get_revision(max(h for h in heads if h.isdigit()))  # the core's
    engine = make_engine(url)
    async with engine.connect() as conn:
        await conn.run_sync(_alembic(url, "downgrade", str(latest.down_revision)))
        await conn.commit()
    await engine.dispose()
    again, idle = run_manage_each((env, ["migrate"]), (env, ["migrate"]))  # one process
    assert again.returncode == 0, again.stderr
    assert f"migrated from {latest.down_revision} to {latest.revision};" in again.stdout
    assert "nothing to migrate" in idle.stdout
