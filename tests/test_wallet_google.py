"""Google Wallet: the "Save to Google Wallet" link is an RS256 JWT carrying the class and
the object; later changes and the voiding reach Google through the Wallet REST API,
queued and retried. The API and its token endpoint are a Starlette app on the loopback
(real HTTP); the JWTs are decoded with the service account's public key."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import jwt
import pytest
from sqlalchemy import select

from server.audit.models import AuditEntry
from server.cards.service import revoke_link
from server.checks import codes
from server.checks.runtime import keyring
from server.config import Settings
from server.members.actions import deactivate
from server.wallet.commands import sync
from server.wallet.delivery import Report, deliver_once
from server.wallet.models import WalletDelivery, WalletPass
from server.wallet.worker import WalletWorker
from tests.card_fixtures import issued_token, reset_card_limiter  # noqa: F401
from tests.check_fixtures import make_verified
from tests.factories import make_staff
from tests.live import free_port
from tests.wallet_fixtures import (
    ISSUER_ID,
    Credentials,
    Recorded,
    google_app,
    make_credentials,
    serving,
    with_wallet,
)

SAVE_PREFIX = "https://pay.google.com/gp/v/save/"


@pytest.fixture
def credentials(tmp_path: Path) -> Credentials:
    return make_credentials(tmp_path / "wallet")


@pytest.fixture
def google_port() -> int:
    return free_port()


@pytest.fixture
def settings(settings: Settings, credentials: Credentials, google_port: int) -> Settings:
    api = f"http://127.0.0.1:{google_port}"
    return with_wallet(
        settings,
        {
            **credentials.google_env(),
            "WALLET_GOOGLE_API_URL": f"{api}/walletobjects/v1",
            "WALLET_GOOGLE_TOKEN_URL": f"{api}/token",
        },
    )


def decode(location: str, credentials: Credentials) -> tuple[dict, dict]:
    assert location.startswith(SAVE_PREFIX)
    token = location[len(SAVE_PREFIX) :]
    claims = jwt.decode(
        token, credentials.google_public_key, algorithms=["RS256"], audience="google"
    )
    return jwt.get_unverified_header(token), claims


async def test_the_save_link_carries_the_card(app, client, db, settings, credentials):
    expires = dt.date.today() + dt.timedelta(days=90)
    member = await make_verified(
        db, sca_name="Aelfric of the Lake", membership_number="M4711", membership_expires_on=expires
    )
    token = await issued_token(db, settings, member)

    # The card page offers Google Wallet only (Apple is not configured here).
    card = await client.get(f"/card/{token}")
    assert f'href="/wallet/{token}/google"' in card.text
    assert "Save to Google Wallet" in card.text and "Add to Apple Wallet" not in card.text

    saved = await client.get(f"/wallet/{token}/google")
    assert saved.status_code == 303
    assert saved.headers["referrer-policy"] == "no-referrer"
    header, claims = decode(saved.headers["location"], credentials)
    assert header["alg"] == "RS256" and header["kid"] == "test-key-1"
    assert claims["iss"] == "tessera@test-project.iam.gserviceaccount.com"
    assert claims["typ"] == "savetowallet"
    assert claims["origins"] == ["http://testserver"]
    (klass,) = claims["payload"]["genericClasses"]
    (resource,) = claims["payload"]["genericObjects"]
    assert klass["id"] == f"{ISSUER_ID}.tessera_member"
    assert resource["classId"] == klass["id"]
    assert resource["id"].startswith(f"{ISSUER_ID}.")
    assert resource["state"] == "ACTIVE"
    assert resource["cardTitle"]["defaultValue"]["value"] == "Tessera"
    assert resource["header"]["defaultValue"]["value"] == "Aelfric of the Lake"
    assert resource["subheader"]["defaultValue"]["value"] == "Current member"
    modules = {m["id"]: m["body"] for m in resource["textModulesData"]}
    assert modules["membership"] == f"Valid until {expires.isoformat()}"
    assert resource["barcode"]["type"] == "QR_CODE"
    assert resource["barcode"]["alternateText"] == "Member M4711"
    url = resource["barcode"]["value"]
    assert url.startswith("http://testserver/check/")
    code = codes.read(url.rsplit("/", 1)[1], keyring(app))
    assert code.public_id == member.public_id
    end_of_membership = dt.datetime.combine(expires, dt.time(23, 59, 59), dt.UTC)
    assert dt.timedelta(0) < end_of_membership - code.valid_until <= dt.timedelta(hours=1)
    assert resource["validTimeInterval"]["end"]["date"] == code.valid_until.isoformat()

    # Saving again is the same object.
    _, again = decode(
        (await client.get(f"/wallet/{token}/google")).headers["location"], credentials
    )
    assert again["payload"]["genericObjects"][0]["id"] == resource["id"]


async def test_changes_and_the_voiding_reach_google(
    app, client, db, settings, credentials, google_port
):
    member = await make_verified(db, sca_name="Aelfric of the Lake")
    officer = await make_staff(db, ["manage_members", "issue_card_links"])
    await db.commit()
    token = await issued_token(db, settings, member)
    saved = await client.get(f"/wallet/{token}/google")
    object_id = decode(saved.headers["location"], credentials)[1]["payload"]["genericObjects"][0][
        "id"
    ]
    recorded = Recorded()
    worker = WalletWorker(app.state.sessionmaker, settings)
    async with serving(google_app(recorded, credentials.google_public_key), google_port):
        # Nothing changed: nothing is sent.
        await worker.run_once()
        assert recorded.requests == []

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
        assert report.counts == {"sent": 1}
        grant, put = recorded.requests
        assert grant["kind"] == "token"
        assert grant["grant"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
        assert grant["claims"]["scope"] == "https://www.googleapis.com/auth/wallet_object.issuer"
        assert grant["claims"]["iss"] == "tessera@test-project.iam.gserviceaccount.com"
        assert put["id"] == object_id
        assert put["authorization"] == "Bearer test-access-token"
        assert put["body"]["subheader"]["defaultValue"]["value"] == "Deactivated"
        assert put["body"]["state"] == "ACTIVE"

        # Google is down for a moment: the update waits and is sent again later.
        await revoke_link(db, member, None, "phone lost", dt.date.today())
        await db.commit()
        recorded.answers.append((503, {"error": "backend unavailable"}))
        report = await worker.run_once()
        assert report.counts == {"retried": 1}
        row = (
            (await db.execute(select(WalletDelivery).order_by(WalletDelivery.id.desc())))
            .scalars()
            .first()
        )
        assert row.status == "queued" and row.attempts == 1 and "503" in row.last_error
        await db.commit()
        later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
        retried = await deliver_once(app.state.sessionmaker, settings, worker.senders, now=later)
        assert retried.counts == {"sent": 1}
        assert recorded.objects[object_id]["state"] == "INACTIVE"
        tokens_asked = [r for r in recorded.requests if r["kind"] == "token"]
        assert len(tokens_asked) == 1  # the access token is kept until it runs out
        await worker.senders.close()

    voids = (
        (await db.execute(select(AuditEntry).where(AuditEntry.action == "wallet.void")))
        .scalars()
        .all()
    )
    assert [v.note for v in voids] == ["The card link was revoked (phone lost)."]
    assert voids[0].member_id == member.id


async def test_a_pass_never_saved_is_not_updated(
    app, client, db, settings, credentials, google_port
):
    member = await make_verified(db)
    token = await issued_token(db, settings, member)
    await client.get(f"/wallet/{token}/google")
    await revoke_link(db, member, None, "replaced", dt.date.today())
    await db.commit()
    recorded = Recorded(answers=[(404, {"error": "not found"})])
    worker = WalletWorker(app.state.sessionmaker, settings)
    async with serving(google_app(recorded, credentials.google_public_key), google_port):
        report = await worker.run_once()
        await worker.senders.close()
    assert report.counts == {"dropped": 1}
    row = (await db.execute(select(WalletDelivery))).scalar_one()
    assert row.status == "dropped"
    assert "not saved" in row.last_error


async def test_wallet_sync_from_cron_voids_and_tells_google(
    app, client, db, settings, credentials, google_port
):
    """A deployment that runs its background jobs from cron (no wallet loop in
    ``serve``): ``manage.py wallet-sync`` voids the pass of a revoked card link and
    sends Google the update; nothing else ever did."""
    assert not settings.run_background_jobs
    member = await make_verified(db, sca_name="Aelfric of the Lake")
    await db.commit()
    token = await issued_token(db, settings, member)
    saved = await client.get(f"/wallet/{token}/google")
    object_id = decode(saved.headers["location"], credentials)[1]["payload"]["genericObjects"][0][
        "id"
    ]
    await revoke_link(db, member, None, "Phone stolen", dt.date.today())
    await db.commit()
    recorded = Recorded()
    async with serving(google_app(recorded, credentials.google_public_key), google_port):
        changed, report = await sync(settings, rounds=5)
        assert (changed, report.counts) == (1, {"sent": 1})
        assert recorded.objects[object_id]["state"] == "INACTIVE"
        # A second run finds nothing to do.
        assert await sync(settings, rounds=5) == (0, Report())
    voided = (await db.execute(select(WalletPass.voided_at))).scalar_one()
    await db.commit()
    assert voided is not None
