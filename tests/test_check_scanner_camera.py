"""The scanner reads a card's QR code from the camera (Chromium's fake camera plays a video).

Chromium is launched with a fake capture device that loops a Y4M file made here from a
real check link, drawn as a QR code: what a marshal's phone camera would see when held
over a member's card. Headless Linux Chromium has no ``BarcodeDetector``, so this runs
the scanner's jsQR path on live video frames.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pytest
import segno
from PIL import Image
from playwright.async_api import expect

from server.checks import codes, keyring
from tests.check_fixtures import log_in_to_scanner, make_verified
from tests.factories import make_staff

WIDTH, HEIGHT = 640, 480  # even, as 4:2:0 chroma needs


def qr_picture(text: str, width: int = WIDTH, height: int = HEIGHT) -> Image.Image:
    """The QR code of ``text``, black on white with a quiet zone, centred in a grey frame."""
    symbol = segno.make(text, error="m", micro=False)
    border = 4  # the quiet zone the QR standard asks for
    side = symbol.symbol_size(scale=1, border=border)[0]
    scale = max(1, min(width, height) * 4 // 5 // side)
    rows = symbol.matrix_iter(scale=scale, border=border)  # truthy = dark module
    pixels = b"".join(bytes(0 if dark else 255 for dark in row) for row in rows)
    code = Image.frombytes("L", (side * scale, side * scale), pixels)
    frame = Image.new("L", (width, height), 128)
    frame.paste(code, ((width - code.width) // 2, (height - code.height) // 2))
    return frame


def y4m_video(picture: Image.Image, frames: int = 3) -> bytes:
    """A YUV4MPEG2 (4:2:0, full-range) video showing ``picture`` at 10 frames a second."""
    width, height = picture.size
    assert width % 2 == 0 and height % 2 == 0
    ycbcr = picture.convert("RGB").convert("YCbCr")
    luma, blue, red = ycbcr.split()
    half = (width // 2, height // 2)
    planes = (
        luma.tobytes()
        + blue.resize(half, Image.Resampling.BOX).tobytes()
        + red.resize(half, Image.Resampling.BOX).tobytes()
    )
    header = f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode()
    return header + (b"FRAME\n" + planes) * frames


@dataclass
class Card:
    marshal_email: str
    member_public_id: str
    link: str
    video: Path


@pytest.fixture
async def card(live_server, db, tmp_path: Path) -> Card:
    """A marshal, and a current member's mobile-card QR code on video."""
    marshal = await make_staff(db, ["check_cards"], sca_name="Marshal Maud")
    member = await make_verified(db, sca_name="Aelfric")
    ring = keyring.load_or_create(Path(live_server.env["TESSERA_DATA_DIR"]))
    code = codes.mobile_code(ring, member.public_id, dt.datetime.now(dt.UTC))
    link = codes.check_url(live_server.url, code)
    video = tmp_path / "card.y4m"
    video.write_bytes(y4m_video(qr_picture(link)))
    return Card(marshal.email, member.public_id, link, video)


@pytest.fixture
def chromium_extra_args(card: Card) -> list[str]:
    """The ``browser`` fixture's Chromium, with a camera that films the card."""
    return [
        "--use-fake-ui-for-media-stream",  # allow the camera without asking
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={card.video}",
    ]


@pytest.mark.browser
async def test_scanner_reads_a_card_from_the_camera(
    sqlite_only, live_server, browser, card: Card, artifacts
):
    base = live_server.url
    page = await browser.new_page()
    await log_in_to_scanner(page, base, card.marshal_email)
    await page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    await page.reload()
    assert await page.evaluate("navigator.serviceWorker.controller !== null")
    await expect(page.locator("#keys-state")).to_contain_text("key(s)")
    await expect(page.locator("#revoked-state")).to_contain_text("entries")

    # Online: the camera reads the code and the scanner asks the live check.
    await page.get_by_role("button", name="Scan with camera").click()
    await page.wait_for_selector("#result[data-mode=live]", timeout=20000)
    assert await page.locator("#r-word").text_content() == "OK"
    assert "Aelfric" in (await page.locator("#r-name").text_content() or "")
    assert card.member_public_id in (await page.locator("#r-data").text_content() or "")
    await expect(page.locator("#camera")).to_be_hidden()  # the camera stops after a read
    await expect(page.get_by_role("button", name="Stop camera")).to_be_hidden()
    await expect(page.locator("#r-photo")).to_be_hidden()  # no photo: no empty frame
    await page.screenshot(path=str(artifacts / "scanner-camera-live-ok.png"), full_page=True)

    # Offline (server down): the same card is verified on the phone and queued.
    live_server.stop()
    await page.reload()  # from the service worker's cache
    await expect(page.locator("#netstate")).to_contain_text("Offline")
    await page.get_by_role("button", name="Scan with camera").click()
    await page.wait_for_selector("#result[data-mode=offline]", timeout=20000)
    assert await page.locator("#r-word").text_content() == "OK"
    data = await page.locator("#r-data").text_content() or ""
    assert card.member_public_id in data and "Code issued" in data
    assert await page.locator("#queue-state").text_content() == "1"
    await page.screenshot(path=str(artifacts / "scanner-camera-offline-ok.png"), full_page=True)
