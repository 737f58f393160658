"""One parsed database URL: the engine and the hot-path connections open the same database."""

from __future__ import annotations

import httpx
import pytest

from server.db.target import BadDatabaseURL, DatabaseTarget
from tests.card_fixtures import issued_token
from tests.factories import make_member
from tests.live import LiveServer


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


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("mysql://root@localhost/x", "'mysql', which Tessera cannot use"),
        ("not a url", "not a database URL"),
        ("sqlite+aiosqlite://", "in-memory"),
        ("postgresql://db/x?command_timeout=soon", r"\?command_timeout= takes a number"),
    ],
)
def test_unusable_urls_are_refused_with_the_reason(url, says):
    with pytest.raises(BadDatabaseURL, match=says):
        DatabaseTarget.parse(url)


def _with_option(database_url: str) -> str:
    """The test database's URL with the option the issue reported as breaking cards."""
    if database_url.startswith("sqlite"):
        return database_url + "?timeout=30"
    # The README's production options for PostgreSQL too (a TypeError on every connection
    # once: asyncpg took the URL's text for a number).
    return database_url + "?prepared_statement_cache_size=0&timeout=10&command_timeout=30"


async def test_cards_and_checks_are_served_with_url_options(db, settings, database_url, tmp_path):
    """``?timeout=30`` once opened a second, empty file named ``x.sqlite3?timeout=30``;
    ``?prepared_statement_cache_size=0`` made every card request fail on PostgreSQL."""
    member = await make_member(db, sca_name="Options Everywhere")
    token = await issued_token(db, settings, member)
    server = LiveServer(tmp_path / "live", _with_option(database_url))
    server.log_path.parent.mkdir(parents=True, exist_ok=True)
    server.start()
    try:
        async with httpx.AsyncClient(base_url=server.url) as http:
            card = await http.get(f"/card/{token}.json")
            assert card.status_code == 200, server.log()
            assert card.json()["member"]["sca_name"] == "Options Everywhere"
            check = await http.get(card.json()["check"]["url"].split(server.url, 1)[1])
            assert check.status_code == 200 and "Options Everywhere" in check.text
    finally:
        server.stop()
    assert not list(tmp_path.glob("**/*timeout=30*"))
