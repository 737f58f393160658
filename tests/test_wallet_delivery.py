"""The wallet's delivery queue on bad days: a server stopped in the middle of a batch of
pushes, and one killed with deliveries claimed. Pushes go to the APNs stand-in
(Hypercorn on the loopback, HTTP/2 over TLS, as in ``test_wallet_apns``)."""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
import sys
from pathlib import Path

import pytest
from sqlalchemy import select, update
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server.config import Settings
from server.wallet.delivery import Senders, deliver_once
from server.wallet.models import WalletDelivery
from server.wallet.worker import WalletWorker, sweep_once
from tests.card_fixtures import issued_token, reset_card_limiter  # noqa: F401
from tests.check_fixtures import make_verified
from tests.live import free_port
from tests.test_wallet_apns import register
from tests.wallet_fixtures import Credentials, make_credentials, serving, with_wallet

DEVICES = 3


@pytest.fixture
def credentials(tmp_path: Path) -> Credentials:
    return make_credentials(tmp_path / "wallet")


@pytest.fixture
def apns_port() -> int:
    return free_port()


@pytest.fixture
def settings(settings: Settings, credentials: Credentials, apns_port: int) -> Settings:
    return with_wallet(
        settings,
        {**credentials.apple_env(), "WALLET_APPLE_APNS_URL": f"https://127.0.0.1:{apns_port}"},
    )


class SlowApns:
    """An APNs stand-in that holds every push until ``go`` is set."""

    def __init__(self, delay: float = 0.0) -> None:
        self.arrived: list[str] = []
        self.first = asyncio.Event()
        self.go = asyncio.Event()
        self.delay = delay  # seconds each push takes once let through

    def app(self) -> Starlette:
        async def push(request: Request) -> Response:
            await request.body()  # an unread body makes Hypercorn drop the connection
            self.arrived.append(request.path_params["token"])
            self.first.set()
            await self.go.wait()
            await asyncio.sleep(self.delay)
            return Response(status_code=200)

        return Starlette(routes=[Route("/3/device/{token}", push, methods=["POST"])])


async def _queued_pushes(app, client, db, settings, devices: int = DEVICES) -> None:
    """A pass on ``devices`` devices whose card changed: one queued push per device."""
    member = await make_verified(db)
    token = await issued_token(db, settings, member)
    for n in range(devices):
        await register(client, token, f"iphone000{n}", f"{n:02d}" * 32)
    member.membership_number = "M1234"
    await db.commit()
    await sweep_once(app.state.sessionmaker, settings)


async def _statuses(db) -> list[tuple[str, str | None]]:
    rows = await db.execute(
        select(WalletDelivery.status, WalletDelivery.claimed_by).order_by(WalletDelivery.id)
    )
    await db.commit()
    return [(status, claimed_by) for status, claimed_by in rows]


async def test_a_stop_mid_batch_finishes_the_push_in_flight_and_gives_the_rest_back(
    app, client, db, settings, credentials, apns_port
):
    await _queued_pushes(app, client, db, settings)
    assert [s for s, _ in await _statuses(db)] == ["queued"] * DEVICES
    apns = SlowApns()
    async with serving(apns.app(), apns_port, tls=credentials):
        worker = WalletWorker(app.state.sessionmaker, settings)
        worker.start()
        await asyncio.wait_for(apns.first.wait(), 20)
        stopping = asyncio.create_task(worker.stop())  # the server shuts down
        await asyncio.sleep(0.3)
        assert not stopping.done()  # it waits for the push in flight
        apns.go.set()
        await asyncio.wait_for(stopping, 20)
    assert len(apns.arrived) == 1
    # The push APNs accepted is recorded as sent; the others are queued again at once,
    # not left "sending" under a lease for five minutes.
    assert await _statuses(db) == [("sent", None)] + [("queued", None)] * (DEVICES - 1)


async def test_a_restart_hands_back_what_a_killed_process_had_claimed(
    app, client, db, settings, credentials, apns_port
):
    await _queued_pushes(app, client, db, settings)
    dead = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
    await dead.wait()  # a process of this machine that is gone (killed mid-batch)
    claimant = f"{socket.gethostname()}:{dead.pid}:7f00"
    await db.execute(
        update(WalletDelivery).values(
            status="sending",
            claimed_by=claimant,
            claimed_until=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1),  # lease running
        )
    )
    await db.commit()
    apns = SlowApns()
    apns.go.set()
    async with serving(apns.app(), apns_port, tls=credentials):
        worker = WalletWorker(app.state.sessionmaker, settings)
        worker.start()
        try:
            for _ in range(200):
                if len(apns.arrived) == DEVICES:
                    break
                await asyncio.sleep(0.1)
        finally:
            await worker.stop()
    assert sorted(apns.arrived) == sorted(f"{n:02d}" * 32 for n in range(DEVICES))
    assert await _statuses(db) == [("sent", None)] * DEVICES


async def test_a_batch_outlasting_its_claim_is_not_pushed_twice(
    app, client, db, settings, credentials, apns_port, monkeypatch
):
    """A slow APNs: the batch takes longer than the claim. Another worker takes over the
    rows whose claim ran out, and the first must not push them too."""
    from server.db import leases

    await _queued_pushes(app, client, db, settings, devices=6)
    monkeypatch.setattr(leases, "LEASE", dt.timedelta(seconds=1))
    apns = SlowApns(delay=0.4)
    apns.go.set()
    one, two = Senders.for_settings(settings), Senders.for_settings(settings)

    async def late_worker() -> None:
        await asyncio.sleep(1.3)
        while (await deliver_once(app.state.sessionmaker, settings, two, worker="two")).done:
            pass

    async with serving(apns.app(), apns_port, tls=credentials):
        try:
            await asyncio.gather(
                deliver_once(app.state.sessionmaker, settings, one, worker="one"), late_worker()
            )
        finally:
            await one.close()
            await two.close()
    assert sorted(apns.arrived) == sorted(f"{n:02d}" * 32 for n in range(6))
    assert await _statuses(db) == [("sent", None)] * 6
