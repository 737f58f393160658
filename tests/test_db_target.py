"""One parsed database URL: the engine and the hot-path connections open the same database."""

from __future__ import annotations

import os
from dataclasses import replace

import httpx
import pytest

from server.db.target import BadDatabaseURL, DatabaseTarget
from tests.card_fixtures import issued_token
from tests.factories import make_member
from tests.live import LiveServer, run_manage


def test_sqlite_query_options_are_not_part_of_the_file_name(tmp_path):
    target = DatabaseTarget.parse(f"sqlite+aiosqlite:///{tmp_path}/x.sqlite3?timeout=30")
    assert target.sqlite_path == str(tmp_path / "x.sqlite3")


def test_a_url_without_tessera_s_driver_gets_it():
    assert DatabaseTarget.parse("sqlite:///t.sqlite3").url.drivername == "sqlite+aiosqlite"
    target = DatabaseTarget.parse("postgresql://u@h/d")
    assert target.url.drivername == "postgresql+asyncpg"


def test_postgresql_options_reach_asyncpg_under_its_own_names():
    target = DatabaseTarget.parse(
        "postgresql+asyncpg://tessera:s3cret@db.example.org:6432/members"
        "?prepared_statement_cache_size=0&timeout=10&command_timeout=30"
    )
    assert target.asyncpg_arguments() == {
        "host": "db.example.org",
        "port": 6432,
        "user": "tessera",
        "password": "s3cret",
        "database": "members",
        "statement_cache_size": 0,
        "timeout": 10.0,  # numbers, as asyncpg takes them (the URL gives text)
        "command_timeout": 30.0,
    }


def test_a_url_as_psql_and_hosting_services_write_it():
    """``postgres://`` (Heroku, Render …) and libpq's ``sslmode``/``connect_timeout`` once
    stopped ``serve`` ("cannot use 'postgres'"; "TypeError: connect() got an unexpected
    keyword argument 'sslmode'")."""
    target = DatabaseTarget.parse(
        "postgres://tessera:s3cret@db.example.org/members?sslmode=require&connect_timeout=10"
    )
    assert target.url.drivername == "postgresql+asyncpg"
    assert target.asyncpg_arguments() == {
        "host": "db.example.org",
        "user": "tessera",
        "password": "s3cret",
        "database": "members",
        "ssl": "require",
        "timeout": 10.0,
    }
    # asyncpg's own name wins over libpq's.
    both = DatabaseTarget.parse("postgresql://db/x?ssl=verify-full&sslmode=disable")
    assert both.asyncpg_arguments()["ssl"] == "verify-full"


def test_sqlite_timeout_is_the_busy_timeout():
    assert DatabaseTarget.parse("sqlite:///x.sqlite3?timeout=30").sqlite_busy_timeout_ms() == 30000
    assert DatabaseTarget.parse("sqlite:///x.sqlite3").sqlite_busy_timeout_ms() is None


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("mysql://root@localhost/x", "'mysql', which Tessera cannot use"),
        ("not a url", "not a database URL"),
        ("sqlite+aiosqlite://", "in-memory"),
        ("postgresql://db/x?command_timeout=soon", r"\?command_timeout= takes a number"),
        ("sqlite:///x.sqlite3?timeout=soon", r"\?timeout= takes a number of seconds"),
        ("sqlite:///x.sqlite3?timeout=-1", r"\?timeout= takes a number of seconds"),
        # Once two files (x.sqlite3 and "file:x.sqlite3") and a 500 for every card.
        ("sqlite:///file:x.sqlite3?uri=true", r"\?uri= \(a SQLite file: URI\) is not supported"),
        ("postgresql://db/x?application_name=t", r"\?application_name= is not an option"),
        ("postgresql://db/x?dsn=postgresql://other", r"\?dsn= is not an option"),
    ],
)
def test_unusable_urls_are_refused_with_the_reason(url, says):
    with pytest.raises(BadDatabaseURL, match=says):
        DatabaseTarget.parse(url)


def _with_option(database_url: str, spelling: str) -> str:
    """The test database's URL with the option the issue reported as breaking cards, or
    as ``psql`` and hosting services write a URL (no driver, libpq's option names)."""
    if spelling == "as psql writes it":
        _, rest = database_url.split("://", 1)
        if database_url.startswith("sqlite"):
            return f"sqlite://{rest}?timeout=30"
        return f"postgres://{rest}?sslmode=disable&connect_timeout=10"
    if database_url.startswith("sqlite"):
        return database_url + "?timeout=30"
    # The README's production options for PostgreSQL too (a TypeError on every connection
    # once: asyncpg took the URL's text for a number).
    return database_url + "?prepared_statement_cache_size=0&timeout=10&command_timeout=30"


@pytest.mark.parametrize("spelling", ["as the issue writes it", "as psql writes it"])
async def test_cards_and_checks_are_served_with_url_options(
    db, settings, database_url, tmp_path, spelling
):
    """``?timeout=30`` once opened a second, empty file named ``x.sqlite3?timeout=30``;
    ``?prepared_statement_cache_size=0`` made every card request fail on PostgreSQL."""
    member = await make_member(db, sca_name="Options Everywhere")
    token = await issued_token(db, settings, member)
    server = LiveServer(tmp_path / "live", _with_option(database_url, spelling))
    server.log_path.parent.mkdir(parents=True, exist_ok=True)
    server.start()
    try:
        # The first card is built by the rebuilder process, which may still be starting
        # on a busy machine: wait for it as a phone would, not httpx's 5 s.
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            card = await http.get(f"/card/{token}.json")
            assert card.status_code == 200, server.log()
            assert card.json()["member"]["sca_name"] == "Options Everywhere"
            check = await http.get(card.json()["check"]["url"].split(server.url, 1)[1])
            assert check.status_code == 200 and "Options Everywhere" in check.text
    finally:
        server.stop()
    assert not list(tmp_path.glob("**/*timeout=30*"))


async def test_the_url_s_timeout_is_every_sqlite_connection_s_busy_timeout(
    settings, database_url, sqlite_only
):
    """``?timeout=30`` asks SQLite connections to wait 30 s for the write lock; the
    pragmas of every connection once reset it to 5 s, ORM and hot path alike."""
    from server.app import create_app

    application = create_app(replace(settings, database_url=database_url + "?timeout=30"))
    async with application.router.lifespan_context(application):
        async with application.state.engine.connect() as connection:
            orm = (await connection.exec_driver_sql("PRAGMA busy_timeout")).scalar()
        hot = application.state.hot.sqlite.execute("PRAGMA busy_timeout").fetchone()[0]
    assert (orm, hot) == (30000, 30000)


def _percent_encoded(database_url: str) -> str:
    """The test database's URL with a percent-encoded character, as a password with
    "@" in it is written (SQLite: the file name's dot; PostgreSQL: a password, which
    the test server's trust login does not check)."""
    if database_url.startswith("sqlite"):
        return database_url.replace(".sqlite3", "%2Esqlite3")
    return database_url.replace("postgres@", "postgres:p%40ss%2Fword@", 1)


def test_migrate_takes_a_url_with_percent_encoded_characters(database_url, tmp_path):
    """``migrate`` (and ``serve``, which migrates first) once stopped with "ValueError:
    invalid interpolation syntax": the URL went into Alembic's ConfigParser as is."""
    env = {**os.environ, "TESSERA_DATA_DIR": str(tmp_path), "DATABASE_URL": ""}
    env["DATABASE_URL"] = _percent_encoded(database_url)
    assert "%" in env["DATABASE_URL"]
    done = run_manage(env, "migrate")
    assert done.returncode == 0, done.stderr
    assert "up to date" in done.stdout


@pytest.mark.parametrize("folder", ["data?v2", "100%25", "data#1"])
def test_the_default_database_is_in_the_data_directory_whatever_its_name(tmp_path, folder):
    """The default URL was the data directory's path pasted into a URL: "data?v2" made
    the database "data" (the rest a query), "100%25" the folder "100%"."""
    from server.config import load_settings

    data_dir = tmp_path / folder
    settings = load_settings({"TESSERA_DATA_DIR": str(data_dir), "SECRET_KEY": "x" * 40})
    assert DatabaseTarget.parse(settings.database_url).sqlite_path == str(
        data_dir / "tessera.sqlite3"
    )
