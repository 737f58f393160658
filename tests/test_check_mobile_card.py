"""The marshal QR on the real mobile card, as Chromium draws it, decodes to the check URL."""

from __future__ import annotations

import io

import pytest
import zxingcpp
from PIL import Image

from server.cards.issuing import MailContext
from server.cards.service import issue_link
from tests.check_fixtures import make_verified


@pytest.mark.browser
async def test_mobile_card_qr_screenshot_decodes_to_a_live_ok_check(
    sqlite_only, live_server, browser, db, artifacts
):
    member = await make_verified(db, sca_name="Cuthbert")
    issued = await issue_link(db, member, None, MailContext(live_server.url, "secret-" + "z" * 32))
    await db.commit()
    page = await browser.new_page()
    await page.goto(f"{live_server.url}/card/{issued.token}")
    qr = page.locator("#check-slot img")
    await qr.wait_for()
    await page.screenshot(path=str(artifacts / "mobile-card-with-qr.png"), full_page=True)
    shot = await qr.screenshot()
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(shot)))
    assert len(decoded) == 1
    url = decoded[0].text
    assert url.startswith(f"{live_server.url}/check/")
    await page.goto(url)
    assert await page.locator("h1.word").text_content() == "OK"
    assert "Cuthbert" in (await page.content())
