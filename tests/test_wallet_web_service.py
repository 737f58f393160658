"""Apple's pass web service against the real server (uvicorn), the way a phone uses it:
register for updates, ask which passes changed since a tag, fetch the changed pass
after a status change, find it voided after the card link is revoked; a wrong token
gets 401. No session, no CSRF token; the access log keeps device ids and serials out.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import time
import zipfile
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from server.audit.models import AuditEntry
from server.cards.service import revoke_link
from server.members.actions import deactivate
from server.wallet.models import WalletDevice
from tests.card_fixtures import issued_token, reset_card_limiter  # noqa: F401
from tests.check_fixtures import make_verified
from tests.factories import make_staff
from tests.live import LiveServer
from tests.wallet_fixtures import PASS_TYPE_ID, make_credentials

DEVICE = "b2c7f0a1d3e4f5a6b7c8d9e0f1a2b3c4"
PUSH_TOKEN = "a1" * 32


@pytest.fixture
def wallet_server(database_url: str, tmp_path: Path):
    credentials = make_credentials(tmp_path / "wallet")
    server = LiveServer(tmp_path / "live", database_url, extra_env=credentials.apple_env())
    server.log_path.parent.mkdir(parents=True, exist_ok=True)
    server.start()
    yield server
    server.stop()


def pass_json(data: bytes) -> dict:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return json.loads(archive.read("pass.json"))


async def test_a_phone_follows_its_pass_through_the_web_service(app, db, settings, wallet_server):
    member = await make_verified(db, sca_name="Aelfric of the Lake")
    officer = await make_staff(db, ["manage_members", "issue_card_links"])
    await db.commit()
    token = await issued_token(db, settings, member)
    base = wallet_server.url
    service = f"{base}/wallet/apple/v1"
    async with httpx.AsyncClient(timeout=20) as phone:
        # The member taps "Add to Apple Wallet" on the card page.
        added = await phone.get(f"{base}/wallet/{token}/apple.pkpass")
        assert added.status_code == 200
        body = pass_json(added.content)
        serial, auth = body["serialNumber"], body["authenticationToken"]
        assert body["webServiceURL"] == f"{base}/wallet/apple"
        registration = f"{service}/devices/{DEVICE}/registrations/{PASS_TYPE_ID}"
        good = {"Authorization": f"ApplePass {auth}"}

        # Wallet registers the device for updates (no cookie, no CSRF token needed).
        first = await phone.post(
            f"{registration}/{serial}", json={"pushToken": PUSH_TOKEN}, headers=good
        )
        assert first.status_code == 201
        assert "set-cookie" not in first.headers
        again = await phone.post(
            f"{registration}/{serial}", json={"pushToken": PUSH_TOKEN}, headers=good
        )
        assert again.status_code == 200
        wrong = {"Authorization": "ApplePass " + "x" * 43}
        for headers in (wrong, {}):
            refused = await phone.post(
                f"{registration}/{serial}", json={"pushToken": PUSH_TOKEN}, headers=headers
            )
            assert refused.status_code == 401
            assert (
                await phone.get(f"{service}/passes/{PASS_TYPE_ID}/{serial}", headers=headers)
            ).status_code == 401
        assert (
            await phone.post(f"{registration}/{serial}", content=b"not json", headers=good)
        ).status_code == 400

        # Which passes changed? All of them the first time, then none since that tag.
        listed = await phone.get(registration)
        assert listed.status_code == 200
        assert listed.json()["serialNumbers"] == [serial]
        tag = listed.json()["lastUpdated"]
        assert (
            await phone.get(registration, params={"passesUpdatedSince": tag})
        ).status_code == 204

        fetched = await phone.get(f"{service}/passes/{PASS_TYPE_ID}/{serial}", headers=good)
        assert fetched.status_code == 200
        assert fetched.headers["content-type"] == "application/vnd.apple.pkpass"
        modified = fetched.headers["last-modified"]
        unchanged = await phone.get(
            f"{service}/passes/{PASS_TYPE_ID}/{serial}",
            headers={**good, "If-Modified-Since": modified},
        )
        assert unchanged.status_code == 304

        # The office deactivates the member: the phone learns it at its next question.
        await deactivate(
            db,
            member,
            officer,
            expected_version=member.version,
            reason="Left the society",
            today=dt.date.today(),
        )
        await db.commit()
        changed = await phone.get(registration, params={"passesUpdatedSince": tag})
        assert changed.status_code == 200
        assert changed.json()["serialNumbers"] == [serial]
        newer_tag = changed.json()["lastUpdated"]
        assert int(newer_tag) > int(tag)
        updated = await phone.get(
            f"{service}/passes/{PASS_TYPE_ID}/{serial}",
            headers={**good, "If-Modified-Since": modified},
        )
        assert updated.status_code == 200
        now_shows = pass_json(updated.content)
        assert now_shows["generic"]["headerFields"][0]["value"] == "Deactivated"
        assert "voided" not in now_shows

        # The card link is revoked: the pass comes back voided, and that is audited.
        await revoke_link(db, member, officer, "phone lost", dt.date.today())
        await db.commit()
        voided = await phone.get(registration, params={"passesUpdatedSince": newer_tag})
        assert voided.json()["serialNumbers"] == [serial]
        final = await phone.get(f"{service}/passes/{PASS_TYPE_ID}/{serial}", headers=good)
        assert pass_json(final.content)["voided"] is True
        voids = (
            await db.execute(
                select(AuditEntry.note, AuditEntry.actor_id).where(
                    AuditEntry.action == "wallet.void"
                )
            )
        ).all()
        # Who voided it: the officer who revoked the link (it was recorded as nobody).
        assert voids == [("The card link was revoked (phone lost).", officer.id)]

        # The phone removes the pass and writes to the log.
        removed = await phone.delete(f"{registration}/{serial}", headers=good)
        assert removed.status_code == 200
        assert (await phone.get(registration)).status_code == 204
        await db.commit()  # a fresh read
        ended = (await db.execute(select(WalletDevice.ended_at))).scalar_one()
        assert ended is not None
        logged = await phone.post(
            f"{service}/log",
            json={"logs": [f"Could not update {serial}", "x\x1b[2J\rFAKE\x00 line"]},
        )
        assert logged.status_code == 200

    # The server's log names the endpoints, never the device, the serial or the token.
    deadline = time.monotonic() + 5
    while "/wallet/apple/v1/log" not in wallet_server.log() and time.monotonic() < deadline:
        time.sleep(0.1)
    log = wallet_server.log()
    assert "/wallet/apple/v1/devices/[redacted]" in log
    assert "/wallet/[redacted]/apple.pkpass" in log
    for secret in (serial, DEVICE, auth, token):
        assert secret not in log
    # The device's lines come without control characters (anyone may post them).
    assert "Apple Wallet device reports: x [2J FAKE  line" in log
    assert "\x1b" not in log and "\x00" not in log
