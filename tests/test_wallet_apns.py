"""Pushes to Apple devices: when what a pass shows changes, every device registered for it
gets an empty push through APNs — HTTP/2 over TLS, authenticated by the pass-type
certificate. The APNs stand-in is Hypercorn on the loopback with a certificate from the
throwaway CA, requiring a client certificate from it."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import select

from server import logs
from server.config import Settings
from server.members.actions import deactivate
from server.wallet.models import WalletDelivery, WalletDevice
from server.wallet.worker import WalletWorker
from tests.card_fixtures import issued_token, reset_card_limiter  # noqa: F401
from tests.check_fixtures import make_verified
from tests.factories import make_staff
from tests.live import free_port
from tests.wallet_fixtures import (
    PASS_TYPE_ID,
    Credentials,
    Recorded,
    apns_app,
    make_credentials,
    serving,
    with_wallet,
)


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


async def register(client, token: str, device: str, push_token: str) -> str:
    added = await client.get(f"/wallet/{token}/apple.pkpass")
    with zipfile.ZipFile(io.BytesIO(added.content)) as archive:
        body = json.loads(archive.read("pass.json"))
    response = await client.post(
        f"/wallet/apple/v1/devices/{device}/registrations/{PASS_TYPE_ID}/{body['serialNumber']}",
        json={"pushToken": push_token},
        headers={"Authorization": f"ApplePass {body['authenticationToken']}"},
    )
    assert response.status_code == 201
    return body["serialNumber"]


async def test_a_change_pushes_every_registered_device(
    app, client, db, settings, credentials, apns_port
):
    member = await make_verified(db)
    officer = await make_staff(db, ["manage_members"])
    await db.commit()
    token = await issued_token(db, settings, member)
    await register(client, token, "iphone0001", "aa" * 32)
    await register(client, token, "watch00001", "bb" * 32)
    recorded = Recorded()
    worker = WalletWorker(app.state.sessionmaker, settings)
    async with serving(apns_app(recorded), apns_port, tls=credentials):
        report = await worker.run_once()
        assert report.counts == {} and recorded.requests == []  # nothing changed yet

        await deactivate(
            db,
            member,
            officer,
            expected_version=member.version,
            reason="Left",
            today=dt.date.today(),
        )
        await db.commit()
        report = await worker.run_once()
        assert report.counts == {"sent": 2}
        assert sorted(r["token"] for r in recorded.requests) == ["aa" * 32, "bb" * 32]
        for push in recorded.requests:
            assert push["http_version"] == "2"
            assert push["topic"] == PASS_TYPE_ID
            assert push["body"] == "{}"

        # The watch was reset: APNs says its token is gone, and it is pushed no more.
        member.membership_number = "M78"
        await db.commit()
        recorded.answers += [(200, {}), (410, {"reason": "Unregistered"})]
        report = await worker.run_once()
        assert report.counts == {"sent": 1, "dropped": 1}
        await worker.senders.close()
    ended = (
        (await db.execute(select(WalletDevice.device_id).where(WalletDevice.ended_at.is_not(None))))
        .scalars()
        .all()
    )
    assert ended == ["watch00001"]
    statuses = (await db.execute(select(WalletDelivery.status))).scalars().all()
    assert sorted(statuses) == ["dropped", "sent", "sent", "sent"]


async def test_an_unreachable_apns_keeps_the_push_for_later(app, client, db, settings, apns_port):
    member = await make_verified(db)
    token = await issued_token(db, settings, member)
    await register(client, token, "iphone0001", "aa" * 32)
    member.membership_number = "M99"
    await db.commit()
    worker = WalletWorker(app.state.sessionmaker, settings)
    report = await worker.run_once()  # nobody listens on the port
    await worker.senders.close()
    assert report.counts == {"retried": 1}
    row = (await db.execute(select(WalletDelivery))).scalar_one()
    assert row.status == "queued" and row.attempts == 1
    assert "unreachable" in row.last_error
    assert row.next_attempt_at > dt.datetime.now(dt.UTC)


async def test_a_push_leaves_no_push_token_in_the_log(
    app, client, db, settings, credentials, apns_port, caplog
):
    logs.configure()  # as serve sets logging up
    caplog.set_level(logging.INFO)
    member = await make_verified(db)
    token = await issued_token(db, settings, member)
    await register(client, token, "iphone0001", "cd" * 32)
    member.membership_number = "M42"
    await db.commit()
    worker = WalletWorker(app.state.sessionmaker, settings)
    async with serving(apns_app(Recorded()), apns_port, tls=credentials):
        report = await worker.run_once()
        await worker.senders.close()
    assert report.counts == {"sent": 1}
    assert "cd" * 32 not in caplog.text


async def test_the_certificate_as_apple_hands_it_out_pushes(
    app, client, db, settings, credentials, apns_port, tmp_path
):
    """Apple's download is ``pass.cer`` (DER), and WALLET_APPLE_CERT takes DER: the
    server started with it, then failed at start-up building the APNs connection
    (``ssl`` reads PEM files only)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    from tests.wallet_fixtures import with_wallet as configure

    pem = credentials.cert.read_bytes()
    der = tmp_path / "pass.cer"
    der.write_bytes(x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER))
    settings = configure(
        settings,
        {
            **credentials.apple_env(),
            "WALLET_APPLE_CERT": str(der),
            "WALLET_APPLE_APNS_URL": f"https://127.0.0.1:{apns_port}",
        },
    )
    app.state.settings = settings
    member = await make_verified(db)
    token = await issued_token(db, settings, member)
    await register(client, token, "iphone0001", "ef" * 32)
    member.membership_number = "M43"
    await db.commit()
    recorded = Recorded()
    worker = WalletWorker(app.state.sessionmaker, settings)
    async with serving(apns_app(recorded), apns_port, tls=credentials):
        report = await worker.run_once()
        await worker.senders.close()
    assert report.counts == {"sent": 1}
    assert [r["token"] for r in recorded.requests] == ["ef" * 32]


async def test_a_push_refused_for_days_is_still_retried(app, client, db, settings, apns_port):
    """After a day of failures (attempt 43 on, the backoff capped at 30 minutes) the
    backoff overflowed ``timedelta``: the outcome was never recorded and every round
    that claimed the row failed, holding the rest of its batch."""
    member = await make_verified(db)
    token = await issued_token(db, settings, member)
    await register(client, token, "iphone0001", "aa" * 32)
    member.membership_number = "M98"
    await db.commit()
    worker = WalletWorker(app.state.sessionmaker, settings)
    assert (await worker.run_once()).counts == {"retried": 1}  # nobody listens on the port
    for attempts in (42, 43, 500):
        row = (await db.execute(select(WalletDelivery))).scalar_one()
        row.attempts, row.next_attempt_at = attempts, dt.datetime.now(dt.UTC)
        await db.commit()
        report = await worker.run_once()
        assert report.counts == {"retried": 1}, attempts
        await db.refresh(row)
        assert (row.status, row.attempts) == ("queued", attempts + 1)
        wait = row.next_attempt_at - dt.datetime.now(dt.UTC)
        assert dt.timedelta(minutes=29) < wait <= dt.timedelta(minutes=30)
        await db.commit()
    await worker.senders.close()
