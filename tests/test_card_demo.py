from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from server.cards.models import CardLink
from server.demo.cards import demo_card
from server.demo.registry import DemoData
from server.members.models import Member
from tests import card_fixtures

_reset_card_limiter = card_fixtures.reset_card_limiter


async def test_demo_step_issues_a_working_link_and_prints_it(db, client, monkeypatch, settings):
    monkeypatch.setenv("SECRET_KEY", str(settings.secret_key))
    monkeypatch.setenv("TESSERA_DATA_DIR", str(settings.data_dir))
    demo = DemoData(today=dt.date.today(), base_url="http://testserver")
    await demo_card(db, demo)
    await demo_card(db, demo)  # idempotent: same member, the same link
    assert demo.notes[0] == demo.notes[1]
    await db.commit()
    assert (
        len(
            (
                await db.execute(select(Member).where(Member.email_key == "card.demo@example.org"))
            ).all()
        )
        == 1
    )
    assert len((await db.execute(select(CardLink).where(CardLink.revoked_at.is_(None)))).all()) == 1
    await db.commit()
    url = demo.notes[-1].split(": ", 1)[1]
    response = await client.get(url.removeprefix("http://testserver") + ".json")
    assert response.status_code == 200
    assert response.json()["headline"]["text"] == "Current member"


async def test_the_demo_card_email_offers_the_configured_wallets(
    db, monkeypatch, settings, tmp_path
):
    """``serve --demo`` with a wallet configured: the demo member's card email offers it,
    as every card email then does."""
    from server.mail.models import OutboxMessage
    from server.mail.sealed import unseal
    from tests.wallet_fixtures import make_credentials

    monkeypatch.setenv("SECRET_KEY", str(settings.secret_key))
    monkeypatch.setenv("TESSERA_DATA_DIR", str(settings.data_dir))
    for name, value in make_credentials(tmp_path / "wallet").apple_env().items():
        monkeypatch.setenv(name, value)
    await demo_card(db, DemoData(today=dt.date.today(), base_url="http://testserver"))
    await db.commit()
    [row] = (
        await db.execute(
            select(OutboxMessage).where(OutboxMessage.to_addr == "card.demo@example.org")
        )
    ).scalars()
    text = unseal(row.body_text, str(settings.secret_key))
    assert "Add to Apple Wallet" in text and "/apple.pkpass" in text
    assert "Google Wallet" not in text
