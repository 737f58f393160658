"""Where members get a pass (card page, card email), what staff see and how they void
one, and what happens when no wallet is configured."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import select

from server.audit.models import AuditEntry
from server.cards.issuing import MailContext
from server.cards.service import issue_link
from server.config import Settings
from server.mail.models import OutboxMessage
from server.mail.sealed import unseal
from server.wallet.models import WalletPass
from tests.card_fixtures import issued_token, reset_card_limiter  # noqa: F401
from tests.check_fixtures import make_verified
from tests.factories import csrf_from, login, make_staff
from tests.wallet_fixtures import PASS_TYPE_ID, make_credentials, with_wallet


def pass_json(data: bytes) -> dict:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return json.loads(archive.read("pass.json"))


async def _mailed_card(db, settings: Settings, member) -> tuple[OutboxMessage, str, str]:
    """``member``'s card link, mailed: the message, its text and the link's token."""
    await issue_link(db, member, None, MailContext.of(settings), dt.date.today())
    await db.commit()
    mail = (await db.execute(select(OutboxMessage))).scalar_one()
    text = unseal(mail.body_text, str(settings.secret_key))
    return mail, text, re.search(r"/card/([A-Za-z0-9_-]{22})", text).group(1)


async def test_without_configuration_no_wallet_is_offered(app, client, db, settings):
    member = await make_verified(db)
    mail, text, token = await _mailed_card(db, settings, member)
    assert "Wallet" not in text and "Wallet" not in mail.body_html

    card = await client.get(f"/card/{token}")
    assert card.status_code == 200
    assert "Apple Wallet" not in card.text and "Google Wallet" not in card.text
    assert (await client.get(f"/wallet/{token}/apple.pkpass")).status_code == 404
    assert (await client.get(f"/wallet/{token}/google")).status_code == 404
    service = "/wallet/apple/v1"
    assert (await client.post(f"{service}/log", json={"logs": ["x"]})).status_code == 404
    assert (
        await client.get(f"{service}/devices/abc/registrations/{PASS_TYPE_ID}")
    ).status_code == 404
    assert (await db.execute(select(WalletPass))).first() is None

    officer = await make_staff(db, ["issue_card_links"])
    await db.commit()
    await login(client, officer.email)
    page = await client.get(f"/members/{member.id}/wallet")
    assert "No wallet is configured on this server" in page.text
    assert "has never added their card to a wallet" in page.text


@pytest.fixture
def credentials(tmp_path: Path):
    return make_credentials(tmp_path / "wallet")


@pytest.fixture
def configured(settings: Settings, credentials) -> Settings:
    return with_wallet(settings, {**credentials.apple_env(), **credentials.google_env()})


@pytest.fixture
async def wallet_app(configured: Settings):
    from server.app import create_app

    application = create_app(configured)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def wallet_client(wallet_app):
    import httpx

    transport = httpx.ASGITransport(app=wallet_app, client=("127.0.0.1", 50001))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def test_members_get_passes_and_staff_void_them(wallet_app, wallet_client, configured):
    client = wallet_client
    async with wallet_app.state.sessionmaker() as db:
        member = await make_verified(db, sca_name="Aelfric of the Lake")
        officer = await make_staff(db, ["issue_card_links"], sca_name="Deputy Dora")
        await db.commit()
        # The card email offers both wallets, through the card link.
        await issue_link(db, member, None, MailContext.of(configured), dt.date.today())
        await db.commit()
        mail = (await db.execute(select(OutboxMessage))).scalar_one()
        key = str(configured.secret_key)
        text, html = unseal(mail.body_text, key), unseal(mail.body_html, key)
        apple_url = re.search(r"http://testserver(/wallet/[A-Za-z0-9_-]{22}/apple\.pkpass)", text)
        google_url = re.search(r"http://testserver(/wallet/[A-Za-z0-9_-]{22}/google)", text)
        assert apple_url and google_url
        assert "Add to Apple Wallet" in html and "Save to Google Wallet" in html
        token = apple_url.group(1).split("/")[2]

        # So does the card page; the member adds both.
        card = await client.get(f"/card/{token}")
        assert f'href="/wallet/{token}/apple.pkpass"' in card.text
        assert f'href="/wallet/{token}/google"' in card.text
        added = await client.get(apple_url.group(1))
        body = pass_json(added.content)
        assert (await client.get(google_url.group(1))).status_code == 303
        await db.commit()  # a fresh read
        added_audit = (
            (await db.execute(select(AuditEntry.action).where(AuditEntry.member_id == member.id)))
            .scalars()
            .all()
        )
        assert added_audit.count("wallet.pass_added") == 2

        # The office sees both on the member's page.
        await login(client, officer.email)
        detail = await client.get(f"/members/{member.id}")
        assert f'href="/members/{member.id}/wallet"' in detail.text
        page = await client.get(f"/members/{member.id}/wallet")
        assert page.status_code == 200
        assert page.text.count("Live</span>") == 2
        apple_pass = (
            await db.execute(select(WalletPass).where(WalletPass.wallet == "apple"))
        ).scalar_one()
        await db.commit()

        # Voiding asks for a reason; without one nothing changes.
        action = f"/members/{member.id}/wallet/{apple_pass.id}/void"
        csrf = await csrf_from(client, f"/members/{member.id}/wallet")
        refused = await client.post(action, data={"csrf_token": csrf, "reason": "  "})
        assert refused.status_code == 400
        assert "Give a reason" in refused.text
        # The error summary takes the focus and leads to the field (as every form's does).
        assert 'id="error-summary"' in refused.text and 'href="#reason-' in refused.text
        assert (await db.get(WalletPass, apple_pass.id)).voided_at is None
        await db.commit()
        voided = await client.post(action, data={"csrf_token": csrf, "reason": "Phone stolen"})
        assert voided.status_code == 303
        page = await client.get(f"/members/{member.id}/wallet")
        assert "Voided</span>" in page.text and "Phone stolen" in page.text
        assert "by Deputy Dora — Phone stolen" in page.text  # who voided it, as the README says
        # What the void does to the QR code, said as it is (it said the code kept working).
        assert "checks as REVOKED" in page.text and "does not stop" not in page.text
        assert page.text.count("Live</span>") == 1
        await db.commit()
        entry = (
            await db.execute(select(AuditEntry).where(AuditEntry.action == "wallet.void"))
        ).scalar_one()
        assert (entry.actor_id, entry.member_id, entry.note) == (
            officer.id,
            member.id,
            "Phone stolen",
        )
        await db.commit()
        again = await client.post(action, data={"csrf_token": csrf, "reason": "twice"})
        assert again.status_code == 303
        assert "already void" in (await client.get(f"/members/{member.id}/wallet")).text

    # The phone finds the pass void; the card link no longer hands it out.
    fetched = await client.get(
        f"/wallet/apple/v1/passes/{PASS_TYPE_ID}/{body['serialNumber']}",
        headers={"Authorization": f"ApplePass {body['authenticationToken']}"},
    )
    assert pass_json(fetched.content)["voided"] is True
    client.cookies.clear()
    gone = await client.get(apple_url.group(1))
    assert gone.status_code == 410 and "voided" in gone.text


async def test_officers_void_only_passes_of_members_below_them(wallet_app, wallet_client):
    client = wallet_client
    async with wallet_app.state.sessionmaker() as db:
        chair = await make_staff(
            db, ["issue_card_links", "manage_groups"], sca_name="Chair Cuthbert"
        )
        deputy = await make_staff(db, ["issue_card_links"])
        await db.commit()
        token = await issued_token(db, wallet_app.state.settings, chair)
        await client.get(f"/wallet/{token}/apple.pkpass")
        wallet_pass = (await db.execute(select(WalletPass))).scalar_one()
        await db.commit()
        await login(client, deputy.email)
        page = await client.get(f"/members/{chair.id}/wallet")
        assert "holds permissions you do not hold" in page.text
        assert "Void this pass" not in page.text
        csrf = await csrf_from(client, f"/members/{chair.id}/wallet")
        refused = await client.post(
            f"/members/{chair.id}/wallet/{wallet_pass.id}/void",
            data={"csrf_token": csrf, "reason": "just because"},
        )
        assert refused.status_code == 403
        assert (await db.get(WalletPass, wallet_pass.id)).voided_at is None


@pytest.mark.parametrize("only", ["apple", "google"])
async def test_only_the_configured_wallet_is_offered(app, client, db, settings, credentials, only):
    """One wallet configured: the card page and the card email offer that one, and the
    other's address answers 404."""
    env = credentials.apple_env() if only == "apple" else credentials.google_env()
    settings = with_wallet(settings, env)
    app.state.settings = settings
    member = await make_verified(db)
    mail, text, token = await _mailed_card(db, settings, member)
    card = (await client.get(f"/card/{token}")).text
    offered, other = ("Apple", "Google") if only == "apple" else ("Google", "Apple")
    for shown in (text, mail.body_html, card):
        assert f"{offered} Wallet" in shown and f"{other} Wallet" not in shown
    paths = {"apple": f"/wallet/{token}/apple.pkpass", "google": f"/wallet/{token}/google"}
    for wallet, path in paths.items():
        expected = (200, 303) if wallet == only else (404,)
        assert (await client.get(path)).status_code in expected, wallet
