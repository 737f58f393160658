"""PostgreSQL stops (a restart, a failover, the network cut) while Tessera serves: what an
operator sees. Requests answer 503 with ``Retry-After`` and one log line each — not 500
and two tracebacks; background loops say once that the database cannot be reached and
once that it answers again — not a 110-line traceback every five seconds; libraries
that log the outage with a traceback (asyncpg's pool) get one line too."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import logging
import pickle
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

import asyncpg
import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url
from starlette.routing import Route

from server.app import create_app
from server.cards.rebuild_process import _portable
from server.cards.service import issue_link
from server.mail import delivery
from server.members.models import Member
from tests.card_fixtures import mail_for
from tests.check_fixtures import code_for
from tests.factories import make_member
from tests.live import free_port

pytestmark = pytest.mark.postgres_only
T = TypeVar("T")


async def within(seconds: float, awaited: Awaitable[T], *, unblock: Callable[[], None]) -> T:
    """``awaited``, or a clean failure after ``seconds``. ``asyncio.wait_for`` is no bound
    here: on its timeout it cancels and then waits for the cancelled work to finish, and
    work stuck on a database that swallows every packet (a rollback, a connection's
    close) does not finish — the test would hang instead of failing. So past the bound
    ``unblock`` resets the stuck connections (the relay's cable pulled) and the test fails."""
    task = asyncio.ensure_future(awaited)
    done, _ = await asyncio.wait({task}, timeout=seconds)
    if task in done:
        return task.result()
    unblock()
    task.cancel()
    await asyncio.wait({task}, timeout=30)
    pytest.fail(f"still waiting after {seconds:g} s: the database's silence hangs it")


class Cuttable:
    """A loopback TCP relay to PostgreSQL whose cable can be pulled (every connection
    dropped, new ones refused at once) and plugged back in."""

    def __init__(self, port: int) -> None:
        self.upstream = port
        self.cut = False
        self.hung = False  # bytes are swallowed: the database seems to think forever
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def pull(self) -> None:
        self.cut = True
        for writer in list(self._writers):
            writer.transport.abort()

    def plug(self) -> None:
        self.cut = self.hung = False

    async def stop(self) -> None:
        self.pull()
        if self._server is not None:
            self._server.close()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.cut:
            writer.transport.abort()
            return
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream)
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await src.read(65536):
                    if not self.hung:
                        dst.write(data)
                        await dst.drain()
            dst.transport.abort()
            self._writers.discard(dst)

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


@pytest.fixture
async def relay(database_url: str) -> AsyncIterator[Cuttable]:
    relay = Cuttable(make_url(database_url).port or 5432)
    await relay.start()
    yield relay
    await relay.stop()


@pytest.fixture
async def served(settings, relay):
    """The app on PostgreSQL through the relay, and a member's card link; connecting and
    every statement are given 3 s (``?timeout=3&command_timeout=3``; the README suggests
    10 and 30)."""
    url = make_url(settings.database_url).set(host="127.0.0.1", port=relay.port)
    url = url.update_query_dict({"timeout": "3", "command_timeout": "3"})
    through = dataclasses.replace(settings, database_url=url.render_as_string(False))
    app = create_app(through)
    async with app.router.lifespan_context(app):
        async with app.state.sessionmaker() as db:
            member = await make_member(
                db, membership_expires_on=dt.date.today() + dt.timedelta(days=200)
            )
            issued = await issue_link(db, member, None, mail_for(through), dt.date.today())
            await db.commit()
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield app, c, issued.token


async def test_requests_while_the_database_is_down_answer_503_and_log_one_line(
    served, relay, log_lines
):
    app, client, token = served
    async with app.state.sessionmaker() as db:
        check = f"/check/{code_for(app, await db.scalar(select(Member)))}"
    for path in ("/login", f"/card/{token}.json", f"/card/{token}", check):
        assert (await client.get(path)).status_code == 200, path

    relay.pull()
    for path in ("/login", f"/card/{token}.json", f"/card/{token}", check, "/check/revoked.json"):
        answer = await client.get(path)
        assert answer.status_code == 503, (path, answer.status_code)
        assert answer.headers["retry-after"].isdigit()
        assert "database cannot be reached" in answer.text and "Nothing was saved" in answer.text
    ready = await client.get("/readyz")
    assert ready.status_code == 503 and ready.json()["checks"]["database"] == "unreachable"

    written = log_lines.getvalue()
    assert "Traceback" not in written, written
    assert written.count("database unreachable: GET ") == 5, written
    assert token not in written and check not in written

    # PostgreSQL is back: the very next requests work (pooled connections it closed are
    # replaced before use, in every engine: the app's and the card rebuilder's).
    relay.plug()
    for path in ("/login", f"/card/{token}.json", f"/card/{token}", "/readyz"):
        assert (await client.get(path)).status_code == 200, path


async def test_the_mail_loop_says_once_that_the_database_is_gone_and_once_it_is_back(
    served, relay, log_lines, monkeypatch
):
    app, _client, _token = served
    rounds: list[bool] = []
    enough = asyncio.Event()
    real = delivery.deliver_once

    async def counted(*args, **kwargs):
        try:
            report = await real(*args, **kwargs)
        except Exception:
            rounds.append(False)
            enough.set()
            raise
        rounds.append(True)
        enough.set()
        return report

    monkeypatch.setattr(delivery, "deliver_once", counted)
    monkeypatch.setattr(delivery, "POLL_SECONDS", 0.01)
    relay.pull()
    loop = asyncio.create_task(delivery.delivery_task(app))
    try:
        while rounds.count(False) < 5:
            enough.clear()
            await asyncio.wait_for(enough.wait(), 60)
        written = log_lines.getvalue()
        assert "Traceback" not in written, written
        gone = [line for line in written.splitlines() if "tessera.mail" in line]
        assert len(gone) == 1, written
        assert "WARNING tessera.mail: mail: the database cannot be reached (" in gone[0]

        relay.plug()
        while True not in rounds:
            enough.clear()
            await asyncio.wait_for(enough.wait(), 60)
        assert "INFO tessera.mail: mail: the database answers again" in log_lines.getvalue()
    finally:
        loop.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await within(60, loop, unblock=relay.pull)


async def test_a_library_logging_the_outage_with_its_traceback_gets_one_line(relay, log_lines):
    relay.pull()
    try:
        await asyncpg.connect(host="127.0.0.1", port=relay.port, user="postgres", timeout=10)
    except Exception:
        logging.getLogger("asyncpg.pool").warning(
            "Failed to restore the pool connection floor; retrying", exc_info=True
        )
    written = log_lines.getvalue()
    assert "Traceback" not in written, written
    [line] = written.splitlines()
    assert "WARNING asyncpg.pool: Failed to restore the pool connection floor; retrying" in line
    assert "(the database cannot be reached: " in line

    try:
        raise ValueError("not about the database")
    except ValueError:
        logging.getLogger("tessera").exception("something else broke")
    assert "Traceback" in log_lines.getvalue()  # other errors keep theirs

    # Another service that cannot be reached (APNs, Google, an SMTP relay) is not the
    # database: its traceback stays, and nothing blames the database.
    log_lines.truncate(0)
    log_lines.seek(0)
    async with httpx.AsyncClient() as client:
        try:
            await client.get(f"http://127.0.0.1:{free_port()}/")
        except httpx.ConnectError:
            logging.getLogger("tessera.wallet").warning("APNs push failed", exc_info=True)
    written = log_lines.getvalue()
    assert "Traceback" in written and "database cannot be reached" not in written, written


async def test_metrics_and_requests_answer_while_the_database_does_not(served, relay):
    """A network that swallows packets (no reset): the scrape still answers, saying the
    database is down, instead of hanging until the scraper gives up."""
    app, client, token = served
    assert "tessera_database_up 1.0" in (await client.get("/metrics")).text
    relay.hung = True
    try:
        scraped = await within(60, client.get("/metrics"), unblock=relay.pull)
        assert scraped.status_code == 200
        assert "tessera_database_up 0.0" in scraped.text
        assert 'tessera_http_requests_total{group="metrics",status="2xx"}' in scraped.text
        ready = await within(60, client.get("/readyz"), unblock=relay.pull)
        assert ready.status_code == 503 and ready.json()["checks"]["database"] == "timeout"
        # Requests give up after DATABASE_URL's command_timeout: 503, not a hang, not 500.
        for path in ("/login", f"/card/{token}.json"):
            answer = await within(60, client.get(path), unblock=relay.pull)
            assert answer.status_code == 503, (path, answer.status_code)
            assert "database cannot be reached" in answer.text
    finally:
        relay.pull()  # the swallowed queries' connections are reset, so the app can stop


async def test_the_rebuilder_process_passes_an_outage_on_as_one(served, relay):
    """The card rebuilder's child process reports its failures through a pipe (pickled):
    a database it cannot reach reaches the request as such (503), not as 'card rebuild
    failed' (500)."""
    app, client, _token = served
    relay.pull()
    try:
        await asyncpg.connect(host="127.0.0.1", port=relay.port, user="postgres", timeout=10)
    except Exception as exc:
        failure = exc
    passed_on = pickle.loads(pickle.dumps(_portable(failure)))

    async def rebuild(request):
        raise passed_on

    app.router.routes.insert(0, Route("/rebuild", rebuild))
    answer = await client.get("/rebuild")
    assert answer.status_code == 503 and "database cannot be reached" in answer.text


async def test_the_server_stops_while_the_database_swallows_every_packet(
    settings, relay, log_lines, monkeypatch
):
    """No ``command_timeout`` in DATABASE_URL and a network that swallows packets: what
    stopping must write (the checks and card uses still in memory) waits for a database
    that never answers. Each part gets ``STOP_SECONDS``; the server stops, and says what
    it could not write, instead of hanging until it is killed."""
    from server import app as app_module
    from server.cards import rebuild

    monkeypatch.setattr(app_module, "STOP_SECONDS", 1.0)
    monkeypatch.setattr(rebuild, "STOP_PATIENCE", 1.0)  # its loops' share of the bound
    url = make_url(settings.database_url).set(host="127.0.0.1", port=relay.port)
    through = dataclasses.replace(settings, database_url=url.render_as_string(False))
    app = create_app(through)
    lifespan = app.router.lifespan_context(app)
    await lifespan.__aenter__()
    async with app.state.sessionmaker() as db:
        member = await make_member(db)
        issued = await issue_link(db, member, None, mail_for(through), dt.date.today())
        await db.commit()
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        assert (await c.get(f"/card/{issued.token}.json")).status_code == 200
    relay.hung = True
    try:
        # Four parts of 1 s each and the card rebuilder's own bounded stop (its loops'
        # patience and ten seconds more: about 11 s here, 20 s as shipped), not for ever.
        await within(60, lifespan.__aexit__(None, None, None), unblock=relay.pull)
    finally:
        relay.pull()
    assert "recording when cards were last used did not finish in 1 s" in log_lines.getvalue()
