"""Health probes and metrics (issue 14 item 1)."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import re
import threading

import httpx
import pytest
from sqlalchemy import text
from starlette.datastructures import Secret

from server.app import create_app
from server.cards.models import CardPayload
from server.checks import runtime
from server.mail.outbox import queue_email
from server.nightly.runner import run_nightly
from tests.check_fixtures import check_log_held, code_for, make_verified
from tests.factories import make_member


def _client(app, host: str = "127.0.0.1") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(host, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def _aiosqlite_threads_stopped(before: set[threading.Thread]) -> None:
    """aiosqlite (0.22) stops the worker thread of a connection that failed to open without
    waiting for it, and the thread then reports to this test's event loop: let those
    started since ``before`` finish before the loop closes, or the thread dies with "Event
    loop is closed" (an error in whichever test runs next)."""
    for thread in set(threading.enumerate()) - before:
        if thread.name.endswith("(_connection_worker_thread)"):
            await asyncio.to_thread(thread.join, 10)


async def test_liveness_needs_no_database_and_sets_no_cookie(settings, tmp_path, sqlite_only):
    broken = dataclasses.replace(
        settings, database_url=f"sqlite+aiosqlite:///{tmp_path}/missing/folder/db.sqlite3"
    )
    threads = set(threading.enumerate())
    app = create_app(broken)
    async with _client(app) as client:
        alive = await client.get("/healthz")
        ready = await client.get("/readyz")
    await app.state.engine.dispose()
    await _aiosqlite_threads_stopped(threads)
    assert alive.status_code == 200 and alive.json() == {"status": "ok"}
    assert "set-cookie" not in alive.headers and "set-cookie" not in ready.headers
    assert ready.status_code == 503
    assert ready.json()["checks"]["database"] == "unreachable"
    assert "database is unreachable" in ready.json()["reason"]


async def test_ready_when_database_schema_and_data_dir_are(client):
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready",
        "checks": {"database": "ok", "schema": "ok", "data_dir": "ok"},
    }


async def test_not_ready_when_the_schema_is_behind(app, client, db):
    # One branch's head is missing, as after an upgrade of the code without `migrate`.
    await db.execute(
        text(
            "DELETE FROM alembic_version WHERE version_num = "
            "(SELECT min(version_num) FROM alembic_version)"
        )
    )
    await db.commit()
    ready = await client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["schema"] == "behind"
    assert "manage.py migrate" in ready.json()["reason"]


async def test_not_ready_when_a_newer_version_migrated_the_schema(app, client, db):
    # The code was rolled back after a newer version had migrated the database.
    await db.execute(text("INSERT INTO alembic_version (version_num) VALUES ('9999_future')"))
    await db.commit()
    ready = await client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["schema"] == "newer"
    assert "newer" in ready.json()["reason"] and "manage.py migrate" not in ready.json()["reason"]


async def test_not_ready_when_the_data_dir_is_not_writable(settings, tmp_path):
    not_a_dir = tmp_path / "a-file"
    not_a_dir.write_text("x")
    app = create_app(dataclasses.replace(settings, data_dir=not_a_dir))
    async with _client(app) as client:
        ready = await client.get("/readyz")
    await app.state.engine.dispose()
    assert ready.status_code == 503
    assert ready.json()["checks"] == {"database": "ok", "schema": "ok", "data_dir": "not writable"}
    assert "is not writable" in ready.json()["reason"]


def _value(body: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = re.escape(name) + (r"\{" + re.escape(wanted) + r"\}" if labels else "") + r" (\S+)"
    match = re.search("^" + pattern + "$", body, re.MULTILINE)
    assert match, f"{name}{{{wanted}}} not in the metrics"
    return float(match.group(1))


async def test_metrics_show_requests_mail_nightly_and_card_rebuilds(app, client, db):
    member = await make_member(db)
    queue_email(
        db,
        to="a@example.org",
        template="password_reset",
        context={"member": member, "link": "x", "site_title": "T"},
    )
    failing = queue_email(
        db,
        to="b@example.org",
        template="password_reset",
        context={"member": member, "link": "x", "site_title": "T"},
    )
    failing.last_error = "SMTP server unreachable: refused"
    failing.created_at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)
    failed = queue_email(
        db,
        to="c@example.org",
        template="password_reset",
        context={"member": member, "link": "x", "site_title": "T"},
    )
    failed.status = "failed"
    db.add(CardPayload(member_id=member.id, body=None, valid_until=0))
    await db.commit()
    await run_nightly(app.state.sessionmaker, dt.date.today())
    for _ in range(3):
        await client.get("/login")
    await client.get("/card/aaaaaaaaaaaaaaaaaaaaaa.json")

    answer = await client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    body = answer.text
    assert _value(body, "tessera_http_requests_total", group="auth", status="2xx") == 3
    assert _value(body, "tessera_http_requests_total", group="card", status="4xx") == 1
    assert _value(body, "tessera_http_request_duration_seconds_count", group="auth") == 3
    assert (
        _value(body, "tessera_http_request_duration_seconds_bucket", group="auth", le="+Inf") == 3
    )
    assert _value(body, "tessera_outbox_messages", state="queued") == 1
    assert _value(body, "tessera_outbox_messages", state="failing") == 1
    assert _value(body, "tessera_outbox_messages", state="failed") == 1
    assert 590 < _value(body, "tessera_outbox_oldest_queued_age_seconds") < 900
    assert _value(body, "tessera_card_rebuild_queue") == 1
    assert _value(body, "tessera_check_log_backlog") == 0
    assert _value(body, "tessera_database_up") == 1
    last = _value(body, "tessera_nightly_last_success_timestamp_seconds", job="age_up")
    assert abs(last - dt.datetime.now(dt.UTC).timestamp()) < 120
    assert "set-cookie" not in answer.headers


@pytest.mark.parametrize(
    ("host", "headers", "token", "status"),
    [
        ("203.0.113.7", {}, None, 403),  # from elsewhere, no token configured
        ("203.0.113.7", {}, "s3cret-token", 401),  # token configured but not sent
        ("203.0.113.7", {"Authorization": "Bearer wrong"}, "s3cret-token", 403),
        ("203.0.113.7", {"Authorization": "Bearer s3cret-token"}, "s3cret-token", 200),
        ("127.0.0.1", {"X-Forwarded-For": "203.0.113.7"}, None, 403),  # via a local proxy
        # proxies configured to pass only some of the usual headers
        ("127.0.0.1", {"X-Real-IP": "203.0.113.7"}, None, 403),
        ("127.0.0.1", {"X-Forwarded-Proto": "https"}, None, 403),
        ("127.0.0.1", {"X-Forwarded-Host": "members.example.org"}, None, 403),
        ("::1", {}, None, 200),
        ("::ffff:127.0.0.1", {}, None, 200),  # serve --host :: and a local IPv4 scraper
        ("::ffff:203.0.113.7", {}, None, 403),
    ],
)
async def test_metrics_are_for_this_machine_or_the_token(settings, host, headers, token, status):
    configured = dataclasses.replace(settings, metrics_token=Secret(token) if token else None)
    app = create_app(configured)
    async with _client(app, host) as client:
        answer = await client.get("/metrics", headers=headers)
    await app.state.engine.dispose()
    assert answer.status_code == status
    if status != 200:
        assert answer.json()["error"] and answer.json()["message"]
        assert "tessera_" not in answer.text


async def test_metrics_show_wallet_requests_and_updates(app, client, db):
    from server.cards.models import CardLink
    from server.wallet.models import WalletDelivery, WalletPass

    member = await make_member(db)
    link = CardLink(member_id=member.id, token_hash="m" * 64)
    db.add(link)
    await db.flush()
    wallet_pass = WalletPass(member_id=member.id, card_link_id=link.id, wallet="google", serial="s")
    db.add(wallet_pass)
    await db.flush()
    for status, error in (("queued", ""), ("queued", "HTTP 503"), ("failed", "HTTP 400")):
        db.add(
            WalletDelivery(kind="google", pass_id=wallet_pass.id, status=status, last_error=error)
        )
    await db.commit()
    await client.get("/wallet/apple/v1/log")

    body = (await client.get("/metrics")).text
    assert _value(body, "tessera_http_requests_total", group="wallet", status="4xx") == 1
    assert _value(body, "tessera_wallet_updates", state="queued") == 1
    assert _value(body, "tessera_wallet_updates", state="failing") == 1
    assert _value(body, "tessera_wallet_updates", state="failed") == 1


async def test_metrics_count_the_checks_not_yet_in_the_check_log(app, client, db):
    """A marshal's check is answered at once and written to the check log a moment later;
    while another writer holds the log (a long admin job on SQLite, a table lock on
    PostgreSQL) the entries wait in memory, and the scrape says how many."""
    member = await make_verified(db, sca_name="Backlog Day")
    code = code_for(app, member)
    async with check_log_held(app):
        for _ in range(2):
            assert (await client.get(f"/check/{code}")).status_code == 200
        waiting = (await client.get("/metrics")).text
        assert _value(waiting, "tessera_check_log_backlog") == 2
    assert await runtime.flush_log(app) in (0, 2)
    assert _value((await client.get("/metrics")).text, "tessera_check_log_backlog") == 0
