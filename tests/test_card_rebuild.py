"""Stale cards are rebuilt off the write lock: in batches on demand, and in the background."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import httpx
import pytest
from sqlalchemy import event, func, select

from server.app import create_app
from server.cards import builder, rebuild_process
from server.cards.invalidation import CURRENT_EPOCH, invalidate
from server.cards.models import CardPayload
from server.cards.rebuild import CardRebuilder
from server.cards.rebuild_process import RebuilderProcess
from server.checks.revocations import revoke_codes
from server.members.models import Member
from server.photos.images import process
from server.photos.store import save_photo
from server.settings.models import SettingValue
from server.settings.store import set_setting
from tests.card_fixtures import issued_token
from tests.db_fixtures import long_write
from tests.factories import make_member
from tests.live import free_port
from tests.test_photos import jpeg_bytes

CARDS = 40


async def _cards(db, settings, count: int) -> tuple[list[int], list[str]]:
    members = [await make_member(db, sca_name=f"Card {n}") for n in range(count)]
    ids = [m.id for m in members]
    tokens = [await issued_token(db, settings, m) for m in members]
    await builder.rebuild(db, ids, settings)
    return ids, tokens


async def _stale_count(db) -> int:
    count = await db.scalar(
        select(func.count()).where(
            (CardPayload.body.is_(None)) | (CardPayload.epoch < CURRENT_EPOCH)
        )
    )
    await db.commit()
    return int(count or 0)


async def _until_none_stale(db, seconds: float = 15) -> None:
    for _ in range(int(seconds * 10)):
        if not await _stale_count(db):
            return
        await asyncio.sleep(0.1)
    assert await _stale_count(db) == 0


async def test_a_whole_register_invalidation_then_concurrent_refreshes(
    app, client, db, settings, database_url
):
    """A settings change makes every card stale; the next refreshes all answer, with the
    new colour, in a few batches, and none of them waits for the write lock."""
    ids, tokens = await _cards(db, settings, CARDS)
    await set_setting(db, "card_color", "#123456", None)
    await db.commit()
    assert await _stale_count(db) == CARDS
    rebuilder = app.state.cards.rebuilder
    batches_before = rebuilder.batches
    async with long_write(database_url):  # another writer holds the database meanwhile
        answers = await asyncio.gather(*(client.get(f"/card/{t}.json") for t in tokens))
    assert [a.status_code for a in answers] == [200] * CARDS
    assert {a.json()["org"]["color"] for a in answers} == {"#123456"}
    assert rebuilder.batches - batches_before < CARDS // 4  # built together, not one by one
    await _until_none_stale(db)  # the storer writes once the other writer is done
    again = await client.get(f"/card/{tokens[0]}.json")
    assert again.json() == answers[0].json()


async def test_the_rebuilder_reads_the_settings_again_whenever_they_change(
    app, client, db, settings
):
    """The rebuilder keeps the app settings between batches until the card epoch moves:
    every change of a setting — a new value, or its row deleted (back to the default) —
    shows on the next card it builds."""
    ids, tokens = await _cards(db, settings, 2)
    await invalidate(db, ids)
    await db.commit()
    url = f"/card/{tokens[0]}.json"
    default = (await client.get(url)).json()["org"]["color"]  # built by the rebuilder
    for colour in ("#123456", "#abcdef"):
        await set_setting(db, "card_color", colour, None)
        await db.commit()
        assert (await client.get(url)).json()["org"]["color"] == colour
    await db.delete(await db.get(SettingValue, "card_color"))
    await db.commit()
    assert (await client.get(url)).json()["org"]["color"] == default


async def test_a_payload_built_before_the_members_first_row_never_hides_a_change(db, settings):
    """A member without a payload row: the rebuilder builds their payload, then a change
    invalidates them — with no row to mark — before its storer writes. The storer leaves
    an empty, stale row, not the payload showing the old data; the next build is kept."""
    member_id = (await make_member(db, sca_name="Before")).id
    await db.commit()
    built = await builder.build_many(db, [member_id], settings)
    await db.rollback()
    assert built[member_id] is not None and built[member_id].generation is None
    member = await db.get(Member, member_id)
    assert member is not None
    member.sca_name = "After"  # the ORM invalidates the member's card: no row yet
    await db.commit()
    await builder.store(db, built.values(), later=True)  # as the rebuilder's storer does
    await db.commit()

    async def stored() -> str | None:
        query = select(CardPayload.body).where(CardPayload.member_id == member_id)
        body = (await db.execute(query)).scalar_one()
        await db.rollback()
        return body

    assert await stored() is None  # an empty, stale row: rebuilt at the next ask
    again = await builder.build_many(db, [member_id], settings)
    await db.rollback()
    await builder.store(db, again.values(), later=True)
    await db.commit()
    body = await stored()
    assert body is not None and "After" in body


async def test_the_sweep_rebuilds_stale_cards_without_requests(app, db, settings):
    ids, _ = await _cards(db, settings, CARDS)
    await invalidate(db, ids[: CARDS // 2])
    await invalidate(db, None, reason="test: every card")
    await db.commit()
    assert await _stale_count(db) == CARDS
    sweeper = CardRebuilder(settings, sweep=True, sweep_rate=10_000)
    sweeper.start()
    try:
        await _until_none_stale(db)
    finally:
        await sweeper.stop()
    assert sweeper.built >= CARDS


async def test_a_deleted_members_card_is_gone(app, client, db, settings):
    [member_id], [token] = await _cards(db, settings, 1)
    member = await db.get(Member, member_id)
    assert member is not None
    member.deleted_at = member.created_at
    await db.commit()
    assert (await client.get(f"/card/{token}.json")).status_code == 410


@contextlib.asynccontextmanager
async def _served_by_a_rebuilder_process(settings):
    """The app as shipped: stale cards rebuilt by a child process (``CARD_REBUILDER``'s
    default), with a client of its own."""
    application = create_app(dataclasses.replace(settings, card_rebuilder="process"))
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield application.state.cards.rebuilder, c


async def test_a_rebuilder_process_serves_a_whole_stale_register(app, db, settings):
    """After a whole-register invalidation every card answers with the change, built in
    another process (on another core), in a few batches."""
    ids, tokens = await _cards(db, settings, CARDS)
    await set_setting(db, "card_color", "#654321", None)
    await db.commit()
    async with _served_by_a_rebuilder_process(settings) as (rebuilder, client):
        assert isinstance(rebuilder, RebuilderProcess)
        child = rebuilder._process
        assert child.is_alive() and child.pid != os.getpid()
        answers = await asyncio.gather(*(client.get(f"/card/{t}.json") for t in tokens))
        assert [a.status_code for a in answers] == [200] * CARDS
        assert {a.json()["org"]["color"] for a in answers} == {"#654321"}
        await _until_none_stale(db)  # the child stored what it built
        for _ in range(30):  # its counts arrive every second
            if rebuilder.built >= CARDS:
                break
            await asyncio.sleep(0.1)
        assert 0 < rebuilder.batches < CARDS // 4 and rebuilder.built >= CARDS
    assert not child.is_alive()  # stopped with the app


async def test_a_killed_rebuilder_process_is_started_again(app, db, settings, monkeypatch):
    """The rebuilder process dies (killed, out of memory): requests meanwhile get a clear
    503, never a 500, and stale cards are served again once it is back."""
    monkeypatch.setattr(rebuild_process, "RESTART_PAUSE", 0.5)
    ids, tokens = await _cards(db, settings, 6)
    async with _served_by_a_rebuilder_process(settings) as (rebuilder, client):
        first = rebuilder._process
        await invalidate(db, None, reason="test: every card")
        await db.commit()
        os.kill(first.pid, signal.SIGKILL)
        statuses = []
        for token in tokens:
            answer = await client.get(f"/card/{token}.json")
            statuses.append(answer.status_code)
            while answer.status_code == 503 and len(statuses) < 200:
                await asyncio.sleep(0.1)
                answer = await client.get(f"/card/{token}.json")
                statuses.append(answer.status_code)
            assert answer.status_code == 200
        assert set(statuses) <= {200, 503}
        assert rebuilder._process.pid != first.pid and rebuilder.running


async def test_a_hung_rebuilder_process_gives_a_503_not_a_wait(app, db, settings, monkeypatch):
    monkeypatch.setattr(rebuild_process, "ANSWER_PATIENCE", 1.0)
    _, [token] = await _cards(db, settings, 1)
    async with _served_by_a_rebuilder_process(settings) as (rebuilder, client):
        assert (await client.get(f"/card/{token}.json")).status_code == 200
        # Hang a child that runs, not one still starting (a busy machine takes seconds).
        assert await asyncio.to_thread(rebuilder._ready.wait, 60)
        await invalidate(db, None, reason="test: every card")
        await db.commit()
        os.kill(rebuilder._process.pid, signal.SIGSTOP)
        try:
            hung = await client.get(f"/card/{token}.json")
        finally:
            os.kill(rebuilder._process.pid, signal.SIGCONT)
        assert hung.status_code == 503 and hung.headers["Retry-After"]
        assert (await client.get(f"/card/{token}.json")).status_code == 200


ROOT = Path(__file__).resolve().parent.parent


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            stat = Path(f"/proc/{entry}/stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


def _rebuilders(pid: int) -> list[int]:
    found = []
    for child in _children(pid):
        with contextlib.suppress(OSError):
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                found.append(child)
    return found


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except OSError:
        return False


@pytest.mark.parametrize("when", ["running", "still starting"])
def test_stopping_the_whole_service_stops_the_rebuilder_in_order(tmp_path, when, sqlite_only):
    """``systemctl stop`` (or ``timeout``, or Ctrl-C) signals every process of the
    service, the rebuilder child too: the server stops it in order — no "ended; starting
    it again" ERROR while stopping, no rebuilder left behind. A child still starting
    (before it ignores the signal) dies of it: that is no crash either."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "SECRET_KEY"}}
    env |= {"TESSERA_DATA_DIR": str(tmp_path / "data"), "TESSERA_BACKGROUND_JOBS": "false"}
    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [sys.executable, "manage.py", "serve", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        rebuilders: list[int] = []
        while not (rebuilders and _answers(f"http://127.0.0.1:{port}/healthz")):
            assert time.monotonic() < deadline and server.poll() is None, log_path.read_text()
            rebuilders = _rebuilders(server.pid)
            time.sleep(0.2)
        if when == "running":
            time.sleep(2)  # the rebuilder has reported READY
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)  # uvicorn ends by raising the signal again, after its shutdown
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=10)
    output = log_path.read_text()
    assert "Application shutdown complete" in output, output
    assert " ERROR " not in output, output
    assert not _rebuilders(server.pid)


async def test_a_batch_reads_in_the_same_few_statements_whatever_its_size(db, settings):
    """The members, their payloads' generations, the epoch and every extra part (the
    check code's revocations, the photo) come in one statement; the plugin sections add
    their own (one for the activities plugin). One card or thirty, with photos and revocations: as many statements."""
    members = [await make_member(db, sca_name=f"Batch {n}") for n in range(30)]
    for member in members:
        await save_photo(db, member.id, process(jpeg_bytes(size=(60, 80), exif=False)), None)
        await revoke_codes(db, member, None, "Lost phone")
    await db.commit()
    ids = [m.id for m in members]
    statements: list[str] = []

    def counted(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append(statement)

    engine = db.get_bind()
    event.listen(engine, "before_cursor_execute", counted)
    try:
        one = await builder.build_many(db, ids[:1], settings, sites=builder.SiteSettings())
        one_count = len(statements)
        statements.clear()
        many = await builder.build_many(db, ids, settings, sites=builder.SiteSettings())
    finally:
        event.remove(engine, "before_cursor_execute", counted)
    await db.rollback()
    # The settings (then kept per card epoch), the members with their parts, and the
    # activities plugin's one (current authorizations and group memberships).
    assert len(statements) == one_count <= 3
    assert all(
        built is not None and '"photo":"data:image/jpeg' in built.body for built in many.values()
    )
    assert one[ids[0]] is not None


async def test_a_store_writes_every_unchanged_payload_in_one_statement(db, settings):
    """The storer writes a batch in one statement (on PostgreSQL an UPDATE over arrays,
    not a statement per payload) and still skips a payload whose member changed after
    it was built."""
    members = [await make_member(db, sca_name=f"Stored {n}") for n in range(3)]
    ids = [m.id for m in members]
    await builder.ensure_rows(db, ids)
    await db.commit()
    built = await builder.build_many(db, ids, settings)
    await db.rollback()
    members[1].sca_name = "Renamed meanwhile"  # invalidates that card after its build
    await invalidate(db, [ids[1]])
    await db.commit()
    statements: list[tuple[str, bool]] = []

    def counted(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append((statement, executemany))

    engine = db.get_bind()
    event.listen(engine, "before_cursor_execute", counted)
    try:
        assert await builder.store(db, built.values(), later=True) == 3
        await db.commit()
    finally:
        event.remove(engine, "before_cursor_execute", counted)
    writes = [s for s in statements if s[0].lstrip().upper().startswith("UPDATE")]
    assert len(writes) == 1
    if engine.dialect.name == "postgresql":
        assert not writes[0][1] and "unnest" in writes[0][0]
    query = select(CardPayload.member_id, CardPayload.body).where(CardPayload.member_id.in_(ids))
    rows = {member_id: body for member_id, body in (await db.execute(query)).all()}
    await db.rollback()
    assert "Stored 0" in rows[ids[0]] and "Stored 2" in rows[ids[2]]
    assert rows[ids[1]] is None  # stale: rebuilt at its next ask, never the old name
