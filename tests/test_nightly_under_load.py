"""The nightly run during a busy event: cards and checks keep answering, the run succeeds."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
from sqlalchemy import func, select

from server.cards.invalidation import invalidate
from server.checks import codes, keyring
from server.plugins.activities.models import EXPIRED, Authorization
from tests.activities_fixtures import make_activity, make_authorization
from tests.card_fixtures import issued_token
from tests.check_fixtures import make_verified

ROOT = Path(__file__).resolve().parent.parent
MEMBERS = 60
CLIENTS = 12


async def _register(db, settings, live_server) -> tuple[list[str], list[str]]:
    """Members whose authorizations lapse tonight; their card links and check paths."""
    today = dt.date.today()
    ring = keyring.load_or_create(Path(live_server.env["TESSERA_DATA_DIR"]))
    activity = await make_activity(db)
    tokens, checks = [], []
    for n in range(MEMBERS):
        member = await make_verified(db, sca_name=f"Busy {n}")
        await make_authorization(db, member, activity, expires_on=today)
        tokens.append(await issued_token(db, settings, member))
        code = codes.mobile_code(ring, member.public_id, dt.datetime.now(dt.UTC))
        checks.append(f"/check/{code}")
    await invalidate(db, None, reason="test: midnight")
    await db.commit()
    return tokens, checks


async def _traffic(base_url: str, paths: list[str], stop: asyncio.Event) -> list[int]:
    statuses: list[int] = []
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        n = 0
        while not stop.is_set():
            response = await http.get(paths[n % len(paths)])
            statuses.append(response.status_code)
            n += 7
    return statuses


async def test_nightly_run_succeeds_while_cards_and_checks_are_served(db, settings, live_server):
    tokens, checks = await _register(db, settings, live_server)
    paths = [f"/card/{t}.json" for t in tokens] + checks
    stop = asyncio.Event()
    clients = [
        asyncio.create_task(_traffic(live_server.url, paths[i:] + paths[:i], stop))
        for i in range(CLIENTS)
    ]
    await asyncio.sleep(0.5)  # the event is under way
    tomorrow = (dt.date.today() + dt.timedelta(days=1)).isoformat()
    started = time.monotonic()
    nightly = await asyncio.create_subprocess_exec(
        sys.executable,
        "manage.py",
        "nightly",
        "--date",
        tomorrow,
        cwd=ROOT,
        env={**os.environ, **live_server.env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(nightly.communicate(), 120)
    took = time.monotonic() - started
    await asyncio.sleep(0.5)
    stop.set()
    statuses = [s for c in await asyncio.gather(*clients) for s in c]
    assert nightly.returncode == 0, output.decode()
    assert f"{MEMBERS} authorizations expired" in output.decode(), output.decode()
    assert statuses and set(statuses) == {200}, (set(statuses), took)
    log = live_server.log()
    assert "database is locked" not in log and "Traceback" not in log, log[-3000:]
    expired = await db.scalar(
        select(func.count()).select_from(Authorization).where(Authorization.status == EXPIRED)
    )
    assert expired == MEMBERS
    # The cards say so at their next refresh.
    async with httpx.AsyncClient(base_url=live_server.url) as http:
        card = (await http.get(f"/card/{tokens[0]}.json")).json()
    held = {s["key"]: s for s in card["sections"]}["authorizations"]["rows"]
    assert held == []
