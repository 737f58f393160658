"""The marshal QR on the real mobile card: drawn by the card app in Chromium from the check
URL in the card's data, it decodes to exactly that URL — online, offline, and on the
server-rendered first page without any further request."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import httpx
import pytest

from server.cards.issuing import MailContext
from server.cards.service import issue_link
from tests.check_fixtures import decode_qr, make_verified
from tests.conftest import CHROMIUM, missing
from tests.live import CHROMIUM_ARGS


async def _card_json(url: str) -> dict:
    async with httpx.AsyncClient() as client:
        return (await client.get(url + ".json")).json()


@pytest.mark.browser
async def test_mobile_card_qr_drawn_in_the_browser_decodes_to_the_check_url(
    sqlite_only, live_server, browser, db, artifacts
):
    member = await make_verified(db, sca_name="Cuthbert")
    issued = await issue_link(
        db, member, None, MailContext(live_server.url, "secret-" + "z" * 32), dt.date.today()
    )
    await db.commit()
    card_url = f"{live_server.url}/card/{issued.token}"
    check = (await _card_json(card_url))["check"]
    assert check["url"].startswith(f"{live_server.url}/check/")

    page = await browser.new_page()
    await page.goto(card_url)
    qr = page.locator("#qr svg")
    await qr.wait_for()
    await page.screenshot(path=str(artifacts / "mobile-card-with-qr.png"), full_page=True)
    assert decode_qr(await qr.screenshot()) == [check["url"]]

    # Offline (server stopped, the page from the worker's copy): drawn again from saved data.
    await page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    await page.wait_for_selector("body[data-saved=yes]")
    live_server.stop()
    await page.reload()
    await page.wait_for_selector("body[data-state=offline]")
    assert decode_qr(await page.locator("#qr svg").screenshot()) == [check["url"]]

    live_server.start()
    await page.goto(check["url"])
    assert await page.locator("h1.word").text_content() == "OK"
    assert "Cuthbert" in (await page.content())


@pytest.mark.browser
async def test_first_page_draws_the_qr_without_the_card_data_request(
    sqlite_only, live_server, db, tmp_path: Path
):
    """The server-rendered page alone is enough: the QR is there while the card's JSON
    request never answers (and no service worker serves it)."""
    member = await make_verified(db, sca_name="Cuthbert")
    issued = await issue_link(
        db, member, None, MailContext(live_server.url, "secret-" + "z" * 32), dt.date.today()
    )
    await db.commit()
    card_url = f"{live_server.url}/card/{issued.token}"
    check_url = (await _card_json(card_url))["check"]["url"]
    if not Path(CHROMIUM).exists():
        missing(f"Chromium is not installed at {CHROMIUM}")
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        chromium = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = await chromium.new_context(
            service_workers="block", viewport={"width": 390, "height": 844}, device_scale_factor=2
        )
        try:
            page = await context.new_page()
            asked: list[str] = []

            async def hold(route):  # the data request is seen, and never answered
                asked.append(route.request.url)

            await page.route("**/card/*.json", hold)
            await page.goto(card_url)
            qr = page.locator("#qr svg")
            await qr.wait_for()
            assert decode_qr(await qr.screenshot()) == [check_url]
            assert asked == [card_url + ".json"]  # the card did ask; the QR did not wait for it
        finally:
            await context.close()
            await chromium.close()
