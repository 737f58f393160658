"""A voided pass's check code is refused (REVOKED) at once, not when it runs out in up to
a year; the member's other codes — the printed auth card, the pass in the other wallet,
the pass of the new card link — keep working. The offline scanner's revocation list
carries the voided codes too."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from server.app import create_app
from server.checks import codes
from server.checks.keyring import keyring_for
from server.config import Settings
from server.wallet.content import stored_code
from server.wallet.models import WalletPass
from server.wallet.refresh import refresh, stale_passes
from server.wallet.voiding import void_pass
from tests.card_fixtures import issued_token, reset_card_limiter  # noqa: F401
from tests.check_fixtures import make_verified
from tests.factories import login, make_staff
from tests.wallet_fixtures import make_credentials, with_wallet

ACCEPT = {"Accept": "application/json"}


@pytest.fixture
def configured(settings: Settings, tmp_path: Path) -> Settings:
    credentials = make_credentials(tmp_path / "wallet")
    return with_wallet(settings, {**credentials.apple_env(), **credentials.google_env()})


@pytest.fixture
async def wallet_app(configured: Settings):
    application = create_app(configured)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def wallet_client(wallet_app):
    transport = httpx.ASGITransport(app=wallet_app, client=("127.0.0.1", 50002))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def _codes(db) -> dict[tuple[int, str], str]:
    rows = (await db.execute(select(WalletPass))).scalars().all()
    await db.commit()
    found = {(p.card_link_id, p.wallet): stored_code(p.content) for p in rows}
    assert all(found.values())
    return {key: code for key, code in found.items() if code}


async def _result(client: httpx.AsyncClient, code: str) -> str:
    answer = await client.get(f"/check/{code}", headers=ACCEPT)
    assert answer.status_code == 200
    return str(answer.json()["result"])


async def _member_and_marshal(db, configured):
    """A member with a card link (their token) and a marshal who may check cards."""
    member = await make_verified(db, sca_name="Aelfric of the Lake")
    marshal = await make_staff(db, ["check_cards"], sca_name="Marshal Mildred")
    await db.commit()
    return member, marshal, await issued_token(db, configured, member)


async def test_a_voided_pass_code_checks_as_revoked_and_nothing_else_does(
    wallet_app, wallet_client, configured
):
    client = wallet_client
    async with wallet_app.state.sessionmaker() as db:
        member, marshal, token = await _member_and_marshal(db, configured)
        # The auth card printed in the same hour as the passes are made.
        printed = codes.printed_code(
            keyring_for(configured.data_dir),
            member.public_id,
            dt.datetime.now(dt.UTC),
            member.membership_expires_on,
        )
        assert (await client.get(f"/wallet/{token}/apple.pkpass")).status_code == 200
        assert (await client.get(f"/wallet/{token}/google")).status_code == 303
        first = await _codes(db)
        [(link_id, _)] = {(k[0], 0) for k in first}
        apple, google = first[(link_id, "apple")], first[(link_id, "google")]
        # Each pass carries a code of its own, none the printed card's.
        assert len({apple, google, printed}) == 3
        assert {await _result(client, c) for c in (apple, google, printed)} == {"ok"}

        # Staff void the Apple pass: its code is refused at once, the others stand.
        apple_pass = (
            await db.execute(select(WalletPass).where(WalletPass.wallet == "apple"))
        ).scalar_one()
        await void_pass(
            db,
            configured,
            apple_pass.id,
            member.id,
            actor_id=None,
            reason="Phone stolen",
            now=dt.datetime.now(dt.UTC),
        )
        await db.commit()
        answer = await client.get(f"/check/{apple}", headers=ACCEPT)
        assert answer.json()["result"] == "revoked"
        assert "voided" in answer.json()["reason"]
        assert await _result(client, google) == "ok"
        assert await _result(client, printed) == "ok"

        # A new card link replaces the old one: the Google pass is voided with it, and
        # the new link's passes carry fresh codes that work.
        new_token = await issued_token(db, configured, member)
        await refresh(db, configured, await stale_passes(db, dt.datetime.now(dt.UTC)))
        assert await _result(client, google) == "revoked"
        assert (await client.get(f"/wallet/{new_token}/apple.pkpass")).status_code == 200
        assert (await client.get(f"/wallet/{new_token}/google")).status_code == 303
        second = {k: c for k, c in (await _codes(db)).items() if k[0] != link_id}
        assert len(second) == 2 and not set(second.values()) & {apple, google, printed}
        assert {await _result(client, c) for c in second.values()} == {"ok"}
        assert await _result(client, printed) == "ok"

        # Offline scanners get the voided codes with the revocation list.
        await login(client, marshal.email)
        listed = await client.get("/check/revoked.json")
        assert listed.status_code == 200
        [entry] = [e for e in listed.json()["entries"] if e["p"] == member.public_id]
        ring = keyring_for(configured.data_dir)
        voided = {
            (c.issued_at, c.valid_until) for c in (codes.read(x, ring) for x in (apple, google))
        }
        assert {(dt.datetime.fromtimestamp(i, dt.UTC), dt.datetime.fromtimestamp(u, dt.UTC))
                for i, u in entry["voided"]} == voided  # fmt: skip
        assert entry["before"] == 0


async def test_codes_a_pass_showed_before_an_update_are_refused_once_it_is_voided(
    wallet_app, wallet_client, configured
):
    """A member renews, so the pass is updated with a new code; then the phone is lost
    and the card link revoked. A phone that was offline since before the renewal (or a
    copy of the earlier pass) still shows the earlier code: it must check as REVOKED
    too, at the live check and on offline scanners — not OK until it runs out."""
    client = wallet_client
    async with wallet_app.state.sessionmaker() as db:
        member, marshal, token = await _member_and_marshal(db, configured)
        assert (await client.get(f"/wallet/{token}/apple.pkpass")).status_code == 200
        [before] = (await _codes(db)).values()

        member.membership_expires_on = dt.date.today() + dt.timedelta(days=400)  # renewed
        await db.commit()
        await refresh(db, configured, await stale_passes(db, dt.datetime.now(dt.UTC)))
        [after] = (await _codes(db)).values()
        assert after != before
        assert await _result(client, before) == "ok"
        assert await _result(client, after) == "ok"

        # The phone is lost: a new card link replaces the old one and voids its pass.
        await issued_token(db, configured, member)
        await refresh(db, configured, await stale_passes(db, dt.datetime.now(dt.UTC)))
        assert await _result(client, after) == "revoked"
        answer = await client.get(f"/check/{before}", headers=ACCEPT)
        assert answer.json()["result"] == "revoked", answer.json()
        assert "voided" in answer.json()["reason"]

        await login(client, marshal.email)
        listed = await client.get("/check/revoked.json")
        [entry] = [e for e in listed.json()["entries"] if e["p"] == member.public_id]
        assert sorted(map(tuple, entry["voided"])) == sorted(
            codes.times(c) for c in (before, after)
        )


@pytest.mark.browser
async def test_the_offline_scanner_refuses_a_voided_pass_code(
    sqlite_only, database_url, db, browser, tmp_path
):
    from playwright.async_api import expect

    from server.cards.models import CardLink
    from server.checks import keyring as keyrings
    from server.wallet.content import fresh_code
    from tests.check_fixtures import log_in_to_scanner
    from tests.live import LiveServer

    data_dir = tmp_path / "live"
    data_dir.mkdir()
    ring = keyrings.load_or_create(data_dir)
    member = await make_verified(db, sca_name="Aelfric of the Lake")
    marshal = await make_staff(db, ["check_cards"], sca_name="Marshal Maud")
    await db.commit()
    link = CardLink(member_id=member.id, token_hash="x" * 64)
    db.add(link)
    await db.flush()
    now = dt.datetime.now(dt.UTC)
    shown: dict[str, str] = {}
    for n, (wallet, voided) in enumerate((("apple", True), ("google", False))):
        wallet_pass = WalletPass(
            member_id=member.id,
            card_link_id=link.id,
            wallet=wallet,
            serial=f"serial-{n}",
            voided_at=now if voided else None,
        )
        db.add(wallet_pass)
        await db.flush()
        code = fresh_code(
            ring, member.public_id, member.membership_expires_on, now, None, wallet_pass.id, {}
        )
        wallet_pass.check_code = shown[wallet] = code.text
    await db.commit()

    server = LiveServer(data_dir, database_url)
    server.start()
    try:
        page = await browser.new_page()
        await log_in_to_scanner(page, server.url, marshal.email)
        await expect(page.locator("#revoked-state")).to_contain_text("1 entries")
    finally:
        server.stop()  # offline from here: the phone decides

    answers = {}
    for wallet, code in shown.items():
        await page.evaluate("delete document.getElementById('result').dataset.result")
        await page.get_by_label("Or type or paste the code").fill(code)
        await page.get_by_role("button", name="Check", exact=True).click()
        answer = page.locator("#result[data-result]")
        await answer.wait_for()
        assert await answer.get_attribute("data-mode") == "offline"
        answers[wallet] = await answer.get_attribute("data-result")
    assert answers == {"apple": "revoked", "google": "ok"}


async def test_a_pass_code_is_refused_as_soon_as_its_card_link_is_revoked(
    wallet_app, wallet_client, configured
):
    """An officer revokes a stolen phone's card link and a marshal scans the pass at
    once: REVOKED, before the wallet loop has written the void (it checked OK for up to
    10 s, and with background jobs off until a phone asked). The officer's page of the
    member's passes says Voided straight away, and offline scanners list the codes."""
    from server.cards.service import revoke_link

    client = wallet_client
    async with wallet_app.state.sessionmaker() as db:
        member, marshal, token = await _member_and_marshal(db, configured)
        officer = await make_staff(db, ["issue_card_links"], sca_name="Officer Osk")
        await db.commit()
        assert (await client.get(f"/wallet/{token}/apple.pkpass")).status_code == 200
        assert (await client.get(f"/wallet/{token}/google")).status_code == 303
        shown = set((await _codes(db)).values())
        assert {await _result(client, c) for c in shown} == {"ok"}

        await revoke_link(db, member, None, "Phone stolen", dt.date.today())
        await db.commit()
        assert {await _result(client, c) for c in shown} == {"revoked"}
        await login(client, marshal.email)
        listed = (await client.get("/check/revoked.json")).json()["entries"]
        [entry] = [e for e in listed if e["p"] == member.public_id]
        assert len(entry["voided"]) == 2

        await login(client, officer.email)
        page = await client.get(f"/members/{member.id}/wallet")
        assert page.status_code == 200
        assert page.text.count(">Voided</span>") == 2 and ">Live</span>" not in page.text
        assert "The card link was revoked (Phone stolen)" in page.text
