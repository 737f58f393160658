"""Membership proof in real Chromium (issue 15, item 6), as the people do it: a member on a
phone sends a photo of their card from /me, the office finds it from the dashboard, reads
the number off the picture, rejects it with a reason the member receives by email (real
SMTP), and verifies the next one."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from playwright.async_api import expect
from sqlalchemy import select

from server.members.models import Member
from server.proofs.models import MembershipProof
from tests import smtp_fixtures
from tests.factories import PASSWORD, make_member, make_staff
from tests.live import LiveServer

pytestmark = pytest.mark.browser
smtp_server = smtp_fixtures.smtp_server
NEXT_YEAR = dt.date.today() + dt.timedelta(days=365)
# The printed number's line on the card, in pixels of the phone's photo.
NUMBER_BOX = (1500, 1700, 2500, 1740)


@pytest.fixture
def mailing_server(database_url: str, tmp_path: Path, smtp_server) -> Iterator[LiveServer]:
    server = LiveServer(
        tmp_path / "live",
        database_url,
        extra_env={"SMTP_URL": smtp_server.url, "TESSERA_BACKGROUND_JOBS": "true"},
    )
    server.log_path.parent.mkdir(parents=True, exist_ok=True)
    server.start()
    yield server
    server.stop()


def card_photo() -> bytes:
    """A 12-megapixel phone photo of a membership card lying on a table: the card takes
    the middle of the frame, its number one 40 px line of small print."""
    photo = Image.new("RGB", (4000, 3000), (120, 100, 80))
    draw = ImageDraw.Draw(photo)
    draw.rectangle((1300, 1000, 2700, 1900), fill=(250, 250, 245))
    draw.rectangle(NUMBER_BOX, fill=(0, 0, 0))
    out = io.BytesIO()
    photo.save(out, "JPEG", quality=85)
    return out.getvalue()


def number_height(jpeg: bytes) -> int:
    """How many pixel rows the number's line takes in the picture the office sees."""
    image = Image.open(io.BytesIO(jpeg)).convert("L")
    column = image.width // 2
    return sum(1 for y in range(image.height) if image.getpixel((column, y)) < 60)


async def _log_in(page, base: str, email: str) -> None:
    await page.context.clear_cookies()
    await page.goto(base + "/login")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_load_state()


async def _send_card(page, base: str, number: str) -> None:
    await page.goto(base + "/me")
    await page.locator("#my-membership-proof").get_by_role("link").click()
    await page.get_by_label("Membership number").fill(number)
    await page.get_by_label("Picture of the card").set_input_files(
        {"name": "card.jpg", "mimeType": "image/jpeg", "buffer": card_photo()}
    )
    await page.get_by_role("button", name="Send to the Membership Office").click()
    await expect(
        page.get_by_text("The Membership Office will check your membership card")
    ).to_be_visible()


async def _wait_for(condition, within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.1)


async def test_member_sends_the_card_and_the_office_rejects_then_verifies(
    sqlite_only, mailing_server, smtp_server, browser, db, artifacts
):
    live = mailing_server
    member = await make_member(db, sca_name="Hild of the Fens", email="hild@example.org")
    officer = await make_staff(db, ["verify_members"], sca_name="Officer Osgar")
    await db.commit()
    member_id = member.id
    page = await browser.new_page()  # 390 × 844

    await _log_in(page, live.url, member.email)
    await _send_card(page, live.url, "S-4711")
    [proof] = (await db.execute(select(MembershipProof))).scalars().all()
    await db.commit()
    # Re-encoded, yet the office can still read the card's number off the picture.
    assert number_height(proof.image) >= 12, "the number is too small to read"

    await _log_in(page, live.url, officer.email)
    await page.get_by_role("link", name=re.compile("membership proof to verify")).click()
    await page.get_by_role("link", name=re.compile("Hild of the Fens")).first.click()
    image = page.get_by_role("img", name=re.compile("Membership card uploaded by Hild"))
    await expect(image).to_be_visible()
    assert await image.evaluate("img => img.complete && img.naturalWidth") >= 1000
    scroll, screen = await page.evaluate(
        "[document.documentElement.scrollWidth, window.innerWidth]"
    )
    assert scroll <= screen
    await page.screenshot(path=str(artifacts / "proof-office-390.png"), full_page=True)
    await page.get_by_label("Reason (emailed to the member)").fill("The picture is cut off.")
    await page.get_by_role("button", name="Reject").click()
    await expect(page.get_by_text("rejected", exact=False).first).to_be_visible()

    await _wait_for(lambda: any(m["To"] == member.email for m in smtp_server.messages))
    [mail] = [m for m in smtp_server.messages if m["To"] == member.email]
    assert "The picture is cut off." in smtp_server.text_of(mail)

    await _log_in(page, live.url, member.email)
    await page.goto(live.url + "/me")
    await expect(page.get_by_text("could not be verified: The picture is cut off.")).to_be_visible()
    await _send_card(page, live.url, "S-4712")

    await _log_in(page, live.url, officer.email)
    await page.goto(live.url + "/membership-proofs")
    await page.get_by_role("link", name=re.compile("Hild of the Fens")).first.click()
    await page.get_by_label("Membership expires on").fill(NEXT_YEAR.isoformat())
    await page.get_by_role("button", name="Verify membership").click()
    await expect(page.get_by_text("Membership verified").first).to_be_visible()
    verified = await db.get(Member, member_id)
    assert verified is not None
    await db.refresh(verified)
    await db.commit()
    assert verified.status == "verified" and verified.membership_number == "S-4712"
    assert verified.membership_expires_on == NEXT_YEAR
