"""In Chromium, on a phone-sized card page that its service worker already controls: the
member taps "Add to Apple Wallet" and gets the pass file (the worker, scoped to /card/,
leaves the wallet address to the network), and "Save to Google Wallet" leads to Google's
save page."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from tests.card_fixtures import issued_token, reset_card_limiter  # noqa: F401
from tests.check_fixtures import make_verified
from tests.live import LiveServer
from tests.wallet_fixtures import make_credentials


@pytest.fixture
def wallet_server(database_url: str, tmp_path: Path):
    credentials = make_credentials(tmp_path / "wallet")
    server = LiveServer(
        tmp_path / "live",
        database_url,
        extra_env={**credentials.apple_env(), **credentials.google_env()},
    )
    server.log_path.parent.mkdir(parents=True, exist_ok=True)
    server.start()
    yield server
    server.stop()


@pytest.mark.browser
async def test_the_member_adds_the_card_to_a_wallet(
    sqlite_only, app, db, settings, wallet_server, browser, artifacts
):
    member = await make_verified(db, sca_name="Isolde of Lantern")
    token = await issued_token(db, settings, member)
    page = await browser.new_page()
    await page.goto(f"{wallet_server.url}/card/{token}")
    await page.get_by_role("heading", name="Isolde of Lantern").wait_for()
    await page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    await page.reload()
    assert await page.evaluate("navigator.serviceWorker.controller !== null")
    await page.screenshot(path=str(artifacts / "card-wallet-links.png"), full_page=True)
    # Both are targets a thumb hits on a 320 px phone (they were 19 px tall text links).
    await page.set_viewport_size({"width": 320, "height": 640})
    for name in ("Add to Apple Wallet", "Save to Google Wallet"):
        box = await page.get_by_role("link", name=name).bounding_box()
        assert box is not None and box["height"] >= 24 and box["x"] + box["width"] <= 320, name

    async with page.expect_download() as waiting:
        await page.get_by_role("link", name="Add to Apple Wallet").click()
    download = await waiting.value
    assert download.suggested_filename == "member-card.pkpass"
    with zipfile.ZipFile(io.BytesIO(Path(await download.path()).read_bytes())) as archive:
        body = json.loads(archive.read("pass.json"))
    assert body["generic"]["primaryFields"][0]["value"] == "Isolde of Lantern"

    # "Save to Google Wallet" leads on to Google's save page (not reached here: no network).
    async with page.expect_response(lambda r: r.url.endswith("/google")) as answer:
        await page.get_by_role("link", name="Save to Google Wallet").click()
    response = await answer.value
    assert response.status == 303
    assert response.headers["location"].startswith("https://pay.google.com/gp/v/save/")
