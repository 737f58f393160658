"""The card PWA in real Chromium: emailed link → card → offline → refresh → revoked."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from server.cards.issuing import MailContext
from server.cards.service import issue_link, revoke_link
from server.members.models import Member
from tests import smtp_fixtures
from tests.factories import make_branch, make_member
from tests.live import LiveServer

smtp_server = smtp_fixtures.smtp_server
CARDS_CACHE = "tessera-cards-v1"


@pytest.fixture
def mailing_server(database_url: str, tmp_path: Path, smtp_server) -> Iterator[LiveServer]:
    """The real server with its background mail loop sending to the loopback SMTP server."""
    server = LiveServer(
        tmp_path / "live",
        database_url,
        extra_env={"SMTP_URL": smtp_server.url, "TESSERA_BACKGROUND_JOBS": "true"},
    )
    server.log_path.parent.mkdir(parents=True, exist_ok=True)
    server.start()
    yield server
    server.stop()


async def _wait_for(condition, within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(0.1)


async def _card_cache_urls(page) -> list[str]:
    return await page.evaluate(
        f"caches.open('{CARDS_CACHE}').then(c => c.keys()).then(k => k.map(r => r.url))"
    )


@pytest.mark.browser
async def test_card_from_email_works_offline_refreshes_and_is_revoked(
    sqlite_only, mailing_server, smtp_server, browser, db: AsyncSession, artifacts
):
    live = mailing_server
    branch = await make_branch(db, "Barony of Lantern")
    member = await make_member(db, sca_name="Isolde of Lantern", branch_id=branch.id)
    member_id = member.id
    issued = await issue_link(db, member, None, MailContext(live.url, live.env["SECRET_KEY"]))
    await db.commit()

    await _wait_for(lambda: smtp_server.card_urls())  # delivered by the loop inside the server
    [url] = smtp_server.card_urls()
    assert url == f"{live.url}/card/{issued.token}"

    page = await browser.new_page()
    problems: list[str] = []
    page.on("requestfailed", lambda r: problems.append(r.url))
    page.on("request", lambda r: None if r.url.startswith(live.url) else problems.append(r.url))
    await page.goto(url)
    await page.get_by_role("heading", name="Isolde of Lantern").wait_for()
    await page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    await page.reload()
    assert await page.evaluate("navigator.serviceWorker.controller !== null")
    await page.wait_for_selector("body[data-state=online]")
    assert await page.get_by_text("Barony of Lantern").is_visible()
    assert await page.get_by_text("Adult; membership not verified.").is_visible()
    assert sorted(u.split("/card/", 1)[1] for u in await _card_cache_urls(page)) == sorted(
        [issued.token, issued.token + ".json", issued.token + "/manifest.webmanifest"]
    )
    online_updated = await page.get_attribute("#updated", "datetime")
    await page.screenshot(path=str(artifacts / "card-online.png"), full_page=True)

    cdp = await browser.new_cdp_session(page)
    installability = await cdp.send("Page.getInstallabilityErrors")
    assert installability["installabilityErrors"] == []
    assert problems == []

    # Server gone: the card still opens, from the worker's cache, saying so.
    live.stop()
    await page.reload()
    await page.get_by_role("heading", name="Isolde of Lantern").wait_for()
    await page.wait_for_selector("body[data-state=offline]")
    assert await page.locator("#offline").is_visible()
    assert await page.get_attribute("#updated", "datetime") == online_updated
    await page.screenshot(path=str(artifacts / "card-offline.png"), full_page=True)

    # Back online; the member changes; the refresh button shows it.
    live.start()
    member = await db.get(Member, member_id)
    member.sca_name = "Isolde the Bright"
    await db.commit()
    await page.get_by_role("button", name="Refresh").click()
    await page.get_by_role("heading", name="Isolde the Bright").wait_for()
    assert not await page.locator("#offline").is_visible()
    assert await page.get_attribute("#updated", "datetime") != online_updated

    # Revoked: the message, and the cached card is gone from the phone.
    await revoke_link(db, member, None, "phone lost")
    await db.commit()
    await page.get_by_role("button", name="Refresh").click()
    await page.get_by_text("This card link was replaced or revoked.").wait_for()
    assert not await page.locator("#card").is_visible()
    assert await _card_cache_urls(page) == []
    await page.screenshot(path=str(artifacts / "card-revoked.png"), full_page=True)
    response = await page.reload()
    assert response is not None and response.status == 410

    # The token never reached the server's log or the database file.
    log = live.log()
    assert issued.token not in log and "/card/[redacted]" in log
    await db.commit()
    db_path = Path(live.env["DATABASE_URL"].split("///", 1)[1])
    for path in (db_path, db_path.with_name(db_path.name + "-wal")):
        if path.exists():
            assert issued.token.encode() not in path.read_bytes()
