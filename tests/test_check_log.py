"""The check log on bad days: a busy database, and a server stopped mid-batch."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import sqlite3
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from server.checks import codes, keyring, log, runtime
from server.checks.decide import decide
from server.checks.models import CheckEntry
from server.db.target import DatabaseTarget
from tests.check_fixtures import check_log_held, code_for, make_verified

NOW = dt.datetime.now(dt.UTC)


async def _logged(db) -> list[tuple[int | None, str]]:
    rows = await db.execute(select(CheckEntry.member_id, CheckEntry.result))
    return [tuple(r) for r in rows.all()]


async def test_checks_answer_while_another_writer_holds_the_database(app, client, db, sqlite_only):
    """An admin job holding SQLite's write lock must not stall the live check; the
    entry waits in memory and is written once the lock is free."""
    member = await make_verified(db, sca_name="Busy Day")
    path = DatabaseTarget.parse(app.state.settings.database_url).sqlite_path
    assert path
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        response = await client.get(f"/check/{code_for(app, member)}")
        assert response.status_code == 200 and "OK" in response.text
        flushing = asyncio.create_task(runtime.flush_log(app))
        await asyncio.sleep(0.3)
        assert not flushing.done()  # waiting for the lock, without blocking the loop
        holder.execute("ROLLBACK")
        assert await asyncio.wait_for(flushing, 5) == 1
    finally:
        with contextlib.suppress(sqlite3.Error):
            holder.execute("ROLLBACK")
        holder.close()
    member_id = member.id
    db.expire_all()
    assert await _logged(db) == [(member_id, "ok")]


async def test_checks_waiting_in_memory_are_written_when_the_server_stops(app, db, live_server):
    """A deploy or restart stops the server with SIGTERM: the checks it answered in
    the last fraction of a second are in the log afterwards."""
    member = await make_verified(db, sca_name="Last Second")
    ring = keyring.load_or_create(Path(live_server.env["TESSERA_DATA_DIR"]))
    live_code = codes.mobile_code(ring, member.public_id, dt.datetime.now(dt.UTC))
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        answers = [await http.get(f"/check/{live_code}") for _ in range(5)]
    assert all(a.status_code == 200 for a in answers)
    live_server.stop()  # at once: well inside the log's batching delay
    count = await db.scalar(select(func.count()).select_from(CheckEntry))
    assert count == 5, live_server.log()


async def test_a_grown_write_ahead_log_is_truncated(app, db, sqlite_only, monkeypatch):
    """A long event's checks must not leave SQLite's WAL file growing without end."""
    member = await make_verified(db, sca_name="Long Event")
    verdict = await decide(code_for(app, member), runtime.keyring(app), runtime.lookup(app), NOW)
    monkeypatch.setattr(log, "WAL_LIMIT", 0)
    monkeypatch.setattr(log, "CHECKPOINT_SECONDS", 0.0)
    path = DatabaseTarget.parse(app.state.settings.database_url).sqlite_path
    assert path
    wal = Path(f"{path}-wal")
    writer = runtime.log_writer(app)
    for _ in range(2000):
        writer.add(log.entry_for(verdict, checker_id=None, now=NOW))
    await writer.flush()
    assert wal.stat().st_size > 0
    await db.close()  # the test's own session must not hold a snapshot open
    checkpoint = writer._checkpointing
    assert checkpoint is not None
    await checkpoint
    assert wal.stat().st_size == 0


async def test_a_failed_log_write_leaves_the_live_check_reading_fresh_data(
    app, client, db, sqlite_only
):
    """The lookup and the log share one connection: a write that fails must not leave
    it inside a transaction, or every later check would read the old state."""
    member = await make_verified(db, sca_name="Fresh Eyes")
    code = code_for(app, member)
    assert "OK" in (await client.get(f"/check/{code}")).text
    writer = runtime.log_writer(app)
    await writer.flush()
    verdict = await decide(code, runtime.keyring(app), runtime.lookup(app), NOW)
    writer.pending.append({**log.entry_for(verdict, checker_id=None, now=NOW), "result": None})
    with pytest.raises(sqlite3.IntegrityError):
        await writer.flush()  # the check log refuses a row without a result
    writer.pending.clear()
    member.deactivated_at = dt.datetime.now(dt.UTC)
    member.status = "deactivated"
    await db.commit()
    assert "DEACTIVATED" in (await client.get(f"/check/{code}")).text


async def test_checks_kept_back_by_a_failed_write_are_written_without_another_check(
    app, client, db, monkeypatch
):
    """The write of the check log fails (the database busy past its patience, or gone
    for a moment): the entries wait in memory. Once the database answers they are
    written by themselves — not only when the next marshal checks a card, which after
    the event may be weeks away (and the backlog metric would say so all along)."""
    monkeypatch.setattr(log, "FLUSH_PATIENCE", 0.2)
    member = await make_verified(db, sca_name="Kept Back")
    writer = runtime.log_writer(app)
    failures: list[BaseException] = []
    said = writer._outage.failed
    monkeypatch.setattr(
        writer._outage, "failed", lambda exc, message: (failures.append(exc), said(exc, message))
    )
    async with check_log_held(app):
        assert (await client.get(f"/check/{code_for(app, member)}")).status_code == 200
        deadline = time.monotonic() + 30
        while not failures:  # the write failed (and said so)
            assert time.monotonic() < deadline, "the check log's write never failed"
            await asyncio.sleep(0.05)
    deadline = time.monotonic() + 30
    while writer.pending:  # no other check comes, nobody reads the log
        assert time.monotonic() < deadline, "the kept-back checks were never written"
        await asyncio.sleep(0.05)
    member_id = member.id
    db.expire_all()
    assert await _logged(db) == [(member_id, "ok")]
