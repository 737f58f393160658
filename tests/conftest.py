"""Shared fixtures: every database-facing test runs on SQLite and on PostgreSQL.

PostgreSQL is 127.0.0.1:5432 (user postgres) unless TESSERA_TEST_PG says otherwise. A
fresh database is made per test from a migrated template. With CI=true a missing
PostgreSQL or Chromium is an error; elsewhere those tests skip with the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import os
import re
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.datastructures import Secret

from server import logs
from server.app import create_app
from server.config import Settings
from server.migrate import upgrade
from tests.live import CHROMIUM_ARGS, LiveServer

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
PG_ADMIN_URL = os.environ.get("TESSERA_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
CHROMIUM = os.environ.get("TESSERA_CHROMIUM", "/usr/bin/chromium")


def missing(reason: str) -> None:
    """Skip on a developer's machine; fail in CI, where everything must run."""
    if IN_CI:
        pytest.fail(f"CI=true but {reason}", pytrace=False)
    pytest.skip(reason)


def _pg_dsn(database: str) -> str:
    return re.sub(r"/[^/]*$", f"/{database}", PG_ADMIN_URL)


async def _pg_admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


SCHEMA_SQL = """
SELECT (SELECT array_agg(tablename::text ORDER BY tablename) FROM pg_tables
        WHERE schemaname = 'public'),
       (SELECT array_agg(version_num::text ORDER BY version_num) FROM alembic_version)
"""
ROWS_SQL = """
SELECT string_agg(format('%I', tablename), ', ') FROM pg_tables
WHERE schemaname = 'public' AND tablename <> 'alembic_version'
"""
# Emptying a test's few rows: DELETE, with the foreign keys' triggers off for the
# transaction, and every sequence back at its start, as TRUNCATE … RESTART IDENTITY
# leaves them. TRUNCATE makes new files for every table and index: 0.3–0.5 s a test
# here, against 0.08 s.
EMPTY_SQL = """
SELECT (SELECT string_agg(format('DELETE FROM %I', tablename), '; ') FROM pg_tables
        WHERE schemaname = 'public' AND tablename <> 'alembic_version'),
       (SELECT string_agg(format('ALTER SEQUENCE %I RESTART', sequencename), '; ')
        FROM pg_sequences WHERE schemaname = 'public')
"""


async def _pg_schema(name: str) -> tuple[list[str], list[str]]:
    import asyncpg

    conn = await asyncpg.connect(_pg_dsn(name), timeout=5)
    try:
        tables, versions = await conn.fetchrow(SCHEMA_SQL)
        return list(tables or []), list(versions or [])
    finally:
        await conn.close()


async def _pg_empty(name: str) -> None:
    """Every table of the database without rows, its sequences restarted (``EMPTY_SQL``;
    TRUNCATE where the user may not turn the foreign keys' triggers off)."""
    import asyncpg

    conn = await asyncpg.connect(_pg_dsn(name), timeout=5)
    try:
        await conn.execute("SET lock_timeout = '5s'")
        deletes, restarts = await conn.fetchrow(EMPTY_SQL)
        try:
            async with conn.transaction():
                await conn.execute("SET LOCAL session_replication_role = replica")
                await conn.execute("; ".join(filter(None, (deletes, restarts))))
        except asyncpg.InsufficientPrivilegeError:
            tables = await conn.fetchval(ROWS_SQL)
            if tables:
                await conn.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    finally:
        await conn.close()


class DatabaseTemplates:
    """Migrated databases, made once per test session and per backend.

    SQLite: each test gets a copy of a migrated file. PostgreSQL: creating and dropping
    a database costs a checkpoint (about 2 s here), so one migrated database is reused:
    after each test its tables are emptied (``_pg_empty``). A test that changed the schema (a plugin
    migration, say) leaves a database that is dropped instead, and the next test gets a
    fresh copy of the template. Migrations therefore must not insert rows.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.run_id = uuid.uuid4().hex[:8]
        self.sqlite_template: Path | None = None
        self.pg_template: str | None = None
        self.pg_schema: tuple[list[str], list[str]] | None = None
        self.pg_clean: str | None = None
        self.pg_error: str | None = None
        self.pg_databases: list[str] = []

    def sqlite_url(self) -> str:
        if self.sqlite_template is None:
            path = self.root / "template.sqlite3"
            asyncio.run(upgrade(f"sqlite+aiosqlite:///{path}"))
            self.sqlite_template = path
        copy = self.root / f"db-{uuid.uuid4().hex[:10]}.sqlite3"
        shutil.copyfile(self.sqlite_template, copy)
        return f"sqlite+aiosqlite:///{copy}"

    def _pg_template(self) -> str:
        if self.pg_error:
            missing(self.pg_error)
        if self.pg_template is None:
            name = f"tessera_tpl_{self.run_id}"
            try:
                asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
            except Exception as exc:  # connection refused, auth, ...
                self.pg_error = f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {exc}"
                missing(self.pg_error)
            self.pg_databases.append(name)
            asyncio.run(upgrade(_sqlalchemy_url(name)))
            self.pg_schema = asyncio.run(_pg_schema(name))
            self.pg_template = name
        return self.pg_template

    def pg_url(self) -> str:
        template = self._pg_template()
        name, self.pg_clean = self.pg_clean, None
        if name is None:
            name = f"tessera_t_{self.run_id}_{uuid.uuid4().hex[:8]}"
            asyncio.run(_pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
            self.pg_databases.append(name)
        return _sqlalchemy_url(name)

    def pg_release(self, url: str) -> None:
        """Empty the database for the next test, or drop it if its schema changed."""
        name = url.rsplit("/", 1)[1]
        try:
            if asyncio.run(_pg_schema(name)) == self.pg_schema:
                asyncio.run(_pg_empty(name))
                self.pg_clean = name
                return
        except Exception:
            pass
        self.drop(name)

    def drop(self, name: str) -> None:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if name in self.pg_databases:
            self.pg_databases.remove(name)

    def cleanup(self) -> None:
        for name in reversed(list(self.pg_databases)):
            with contextlib.suppress(Exception):
                self.drop(name)


def _sqlalchemy_url(name: str) -> str:
    return "postgresql+asyncpg://" + _pg_dsn(name).split("://", 1)[1]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run ``postgres_only`` tests on PostgreSQL only and ``sqlite_only`` ones on SQLite only.

    The other backend's copy is deselected rather than skipped, so a skip in a run
    always means something is missing.
    """
    keep: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        name = item.name
        pg_only = item.get_closest_marker("postgres_only") is not None
        sqlite_only = "sqlite_only" in getattr(item, "fixturenames", ())
        if (pg_only and "[sqlite" in name) or (sqlite_only and "[postgresql" in name):
            dropped.append(item)
        else:
            keep.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


@pytest.fixture(scope="session")
def db_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseTemplates]:
    templates = DatabaseTemplates(tmp_path_factory.mktemp("db"))
    yield templates
    templates.cleanup()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, db_templates: DatabaseTemplates) -> Iterator[str]:
    """An empty, migrated database on each backend."""
    if request.param == "sqlite":
        yield db_templates.sqlite_url()
        return
    url = db_templates.pg_url()
    yield url
    db_templates.pg_release(url)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path,
        database_url=database_url,
        secret_key=Secret("test-secret-key-" + "x" * 32),
        base_url="http://testserver",
        smtp_url=None,
        mail_from="Tessera <tessera@example.org>",
        run_background_jobs=False,
        # In-process tests install plugins of their own (tests/dummy_plugin), which a
        # spawned rebuilder would not see; live servers run the shipped default, a process.
        card_rebuilder="thread",
    )


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Starlette]:
    """The app with its lifespan running (hot connections, card rebuilder, check log)."""
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", follow_redirects=False
    ) as c:
        yield c


@pytest.fixture
async def db(app: Starlette) -> AsyncIterator:
    """A database session on the app's engine, for arranging and asserting."""
    async with app.state.sessionmaker() as session:
        yield session


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """What the operator reads: the server's own log handler (``server.logs``), at INFO."""
    stream = io.StringIO()
    handler = logs.make_handler(stream)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield stream
    root.removeHandler(handler)
    root.setLevel(old_level)


@pytest.fixture(autouse=True)
def _reset_rate_limits() -> None:
    """Every test starts with no failures counted against the test clients' address."""
    from server.web.ratelimit import RateLimiter

    RateLimiter.reset_all()


@pytest.fixture
def live_server(database_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    """The real app under ``manage.py serve``, on the same database as ``db``/``app``."""
    server = LiveServer(tmp_path / "live", database_url)
    server.log_path.parent.mkdir(parents=True, exist_ok=True)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def sqlite_only() -> None:
    """For browser tests: the database layer is covered on both backends elsewhere.

    Requesting this fixture deselects the PostgreSQL copy of the test.
    """


ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.fixture
def artifacts() -> Path:
    """Where screenshots and PDFs kept for people to look at are written."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def chromium_extra_args() -> list[str]:
    """Command-line flags added to ``CHROMIUM_ARGS`` for ``browser``.

    None by default; a test module overrides this fixture to launch Chromium with, say,
    a fake camera playing a video file.
    """
    return []


@pytest.fixture
async def browser(tmp_path: Path, chromium_extra_args: list[str]) -> AsyncIterator:
    """A persistent (installability-capable) Chromium context at phone size."""
    if not Path(CHROMIUM).exists():
        missing(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        context = await p.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=CHROMIUM,
            args=[*CHROMIUM_ARGS, *chromium_extra_args],
            headless=True,
            viewport={"width": 390, "height": 844},
            device_scale_factor=2,
        )
        try:
            yield context
        finally:
            await context.close()
