"""The card PWA in real Chromium: emailed link → card → offline → refresh → revoked;
saved on the first visit, kept through every answer but "gone", fresh or stale at a glance."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import re
import shutil
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from server.cards.issuing import MailContext
from server.cards.service import issue_link, revoke_link
from server.members.models import Member
from server.photos.images import process
from server.photos.store import save_photo
from tests import smtp_fixtures
from tests.activities_fixtures import make_activity, make_authorization
from tests.check_fixtures import decode_qr, make_verified
from tests.conftest import CHROMIUM, missing
from tests.factories import make_branch, make_member
from tests.fault_proxy import CANNED as FAULT_PAGES
from tests.fault_proxy import FaultProxy
from tests.live import CHROMIUM_ARGS, ROOT, LiveServer
from tests.test_photos import jpeg_bytes

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
    legal_name = member.legal_name
    issued = await issue_link(
        db, member, None, MailContext(live.url, live.env["SECRET_KEY"]), dt.date.today()
    )
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
    assert await page.locator("#freshness-word").text_content() == "Offline"
    assert await page.get_attribute("#updated", "datetime") == online_updated
    await page.screenshot(path=str(artifacts / "card-offline.png"), full_page=True)

    # Back online; the member changes; the refresh button shows it.
    live.start()
    member = await db.get(Member, member_id)
    member.sca_name = "Isolde the Bright"
    await db.commit()
    await page.get_by_role("button", name="Refresh").click()
    await page.get_by_role("heading", name="Isolde the Bright").wait_for()
    await page.wait_for_selector("body[data-freshness=live]")
    assert await page.get_attribute("#updated", "datetime") != online_updated

    # Revoked: the message; the cached card is gone from the phone and, at once, every
    # personal detail from the page itself (not only hidden).
    await revoke_link(db, member, None, "phone lost", dt.date.today())
    await db.commit()
    await page.get_by_role("button", name="Refresh").click()
    await page.get_by_text("This card link was replaced or revoked.").wait_for()
    html = await page.content()
    for personal in ("Isolde", legal_name, "Barony of Lantern", "/check/", "<svg"):
        assert personal not in html
    assert await page.locator("#card").count() == 0
    assert "Isolde" not in await page.title()
    # The phone keeps only a notice under the card's address, nothing of the member's.
    assert await _card_cache_urls(page) == [url]
    notice = await page.evaluate(
        f"caches.open('{CARDS_CACHE}').then(c => c.match('{url}')).then(r => r.text())"
    )
    assert "replaced or revoked" in notice
    for personal in ("Isolde", legal_name, "Barony of Lantern", "/check/"):
        assert personal not in notice
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

    # Opened again at the event, without signal: the phone says the link was replaced or
    # revoked, not that this card was never saved on it.
    live.stop()
    await page.reload()
    await page.get_by_text("This card link was replaced or revoked.").wait_for()
    assert "not been saved" not in await page.content()


@contextlib.asynccontextmanager
async def _phone(profile: Path) -> AsyncIterator:
    """Chromium on a phone-sized screen with a profile kept on disk: closing it and
    launching it again on the same profile is a cold start of the phone's browser."""
    if not Path(CHROMIUM).exists():
        missing(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        context = await p.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 390, "height": 844},
            device_scale_factor=2,
        )
        try:
            yield context
        finally:
            await context.close()


async def _card_for(db: AsyncSession, base_url: str, **kw) -> tuple[str, str]:
    """(card URL, SCA name) of a verified member with a fresh link."""
    member = await make_verified(db, **kw)
    issued = await issue_link(
        db, member, None, MailContext(base_url, "secret-" + "z" * 32), dt.date.today()
    )
    await db.commit()
    return f"{base_url}/card/{issued.token}", member.sca_name


async def _saved(page) -> None:
    """What the member sees once the card is kept on the phone."""
    await page.get_by_text("Saved on this phone").wait_for()


@pytest.mark.browser
async def test_card_is_saved_on_the_first_visit_and_opens_cold_without_signal(
    sqlite_only, live_server, db, tmp_path, artifacts
):
    url, name = await _card_for(db, live_server.url, sca_name="Wystan of the Marches")
    profile = tmp_path / "phone"
    async with _phone(profile) as phone:  # a fresh profile: nothing saved, no worker yet
        page = await phone.new_page()
        await page.goto(url)
        await page.get_by_role("heading", name=name).wait_for()
        await _saved(page)
        check_url = await page.locator("#qr").get_attribute("data-url")

    live_server.stop()  # at the event: no signal
    async with _phone(profile) as phone:  # the phone's browser starts cold
        page = await phone.new_page()
        await page.goto(url)
        await page.get_by_role("heading", name=name).wait_for()
        await page.wait_for_selector("body[data-freshness=offline]")
        assert await page.locator("#freshness-word").text_content() == "Offline"
        assert "not been saved" not in await page.content()
        await page.screenshot(path=str(artifacts / "card-cold-offline.png"))
        qr = page.locator("#qr svg")
        assert decode_qr(await qr.screenshot()) == [check_url]


@pytest.mark.browser
async def test_a_phone_closed_as_soon_as_the_worker_is_ready_keeps_the_card(
    sqlite_only, live_server, db, tmp_path
):
    """The phone's browser may be closed the moment the card's worker is ready (before
    the page has said "Saved on this phone"): the card is saved by then."""
    url, name = await _card_for(db, live_server.url, sca_name="Hild the Hasty")
    profile = tmp_path / "phone"
    async with _phone(profile) as phone:
        page = await phone.new_page()
        await page.goto(url)
        saved = await page.evaluate(
            f"navigator.serviceWorker.ready.then(() => caches.open('{CARDS_CACHE}'))"
            ".then(c => c.keys()).then(k => k.map(r => new URL(r.url).pathname))"
        )
        path = url.removeprefix(live_server.url)
        assert sorted(saved) == sorted([path, path + ".json", path + "/manifest.webmanifest"])

    live_server.stop()
    async with _phone(profile) as phone:
        page = await phone.new_page()
        await page.goto(url)
        await page.get_by_role("heading", name=name).wait_for()
        await page.wait_for_selector("body[data-freshness=offline]")
        assert await page.locator("#qr svg").is_visible()


@pytest.mark.browser
async def test_a_card_whose_signal_went_while_its_worker_installed_still_opens_offline(
    sqlite_only, live_server, db, tmp_path
):
    """The member opens the emailed link, the card is on the screen, and the signal goes
    before the card's worker has fetched its files: what the page itself loaded (the
    card, its photo, its script, its style) is enough for the worker to finish
    installing, and the card opens after a cold start without signal, QR and photo too."""
    proxy = FaultProxy(live_server.port)
    await proxy.start()
    proxy.hold_worker_files = True  # the worker's own fetches never get an answer
    try:
        member = await make_verified(db, sca_name="Ebba of the Lost Signal")
        await save_photo(db, member.id, process(jpeg_bytes(size=(60, 80), exif=False)), None)
        issued = await issue_link(
            db, member, None, MailContext(proxy.url, "secret-" + "z" * 32), dt.date.today()
        )
        await db.commit()
        url = f"{proxy.url}/card/{issued.token}"
        profile = tmp_path / "phone"
        async with _phone(profile) as phone:
            page = await phone.new_page()
            await page.goto(url)
            await page.get_by_role("heading", name="Ebba of the Lost Signal").wait_for()
            check_url = await page.locator("#qr").get_attribute("data-url")
            await asyncio.wait_for(proxy.worker_file_held.wait(), 20)  # it is installing
            live_server.stop()
            await proxy.stop()  # no signal at all: what the worker waits for fails
            await _wait_for_async(
                lambda: page.evaluate(
                    "navigator.serviceWorker.getRegistration('/card/')"
                    ".then(r => !r || !r.installing)"
                )
            )
    finally:
        await proxy.stop()

    async with _phone(profile) as phone:  # at the event, the phone's browser starts cold
        page = await phone.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("requestfailed", lambda r: errors.append(r.url))
        await page.goto(url)
        await page.get_by_role("heading", name="Ebba of the Lost Signal").wait_for()
        await page.wait_for_selector("body[data-freshness=offline]")
        assert await page.locator("#freshness-word").text_content() == "Offline"
        assert await page.locator("#photo-slot img").is_visible()
        assert decode_qr(await page.locator("#qr svg").screenshot()) == [check_url]
        await page.wait_for_timeout(500)
        assert errors == [], errors


@pytest.mark.browser
async def test_only_this_servers_gone_replaces_the_saved_card(
    sqlite_only, live_server, browser, db
):
    """429, 5xx, a Wi-Fi sign-in page, a stranger's 404 and a timeout all keep the saved
    card on screen and say why it could not refresh."""
    proxy = FaultProxy(live_server.port)
    await proxy.start()
    try:
        url, name = await _card_for(db, proxy.url, sca_name="Maud the Patient")
        page = await browser.new_page()
        await page.goto(url)
        await _saved(page)
        saved = sorted(await _card_cache_urls(page))
        assert len(saved) == 3

        async def says_why(word: str, why: str) -> None:
            await page.wait_for_function(
                "why => document.getElementById('freshness-text').textContent.includes(why)",
                arg=why,
                timeout=10_000,
            )
            assert await page.locator("#freshness-word").text_content() == word
            assert await page.get_by_role("heading", name=name).is_visible()
            assert await page.locator("#qr svg").is_visible()
            assert sorted(await _card_cache_urls(page)) == saved

        async def keeps_the_card(mode: str, word: str, why: str) -> None:
            proxy.mode = mode
            await page.get_by_role("button", name="Refresh").click()  # the data
            await says_why(word, why)
            await page.reload()  # and the page itself, opened again
            await page.get_by_role("heading", name=name).wait_for()
            await says_why(word, why)
            content = await page.content()
            assert all(text not in content for _, text in FAULT_PAGES.values())
            proxy.mode = "pass"
            await page.get_by_role("button", name="Refresh").click()
            await page.wait_for_selector("body[data-freshness=live]")

        await keeps_the_card("busy", "Not refreshed", "the server is busy")
        await keeps_the_card("server_error", "Not refreshed", "the server had a problem")
        await keeps_the_card("portal", "Not refreshed", "a Wi-Fi sign-in page?")
        await keeps_the_card("portal_404", "Not refreshed", "a Wi-Fi sign-in page?")
        await keeps_the_card("hang", "Offline", "the server did not answer in time")
        # (Tessera itself never answers a valid card link with 429: only unknown links are
        # limited, so the "busy" answer above stands for any overloaded front.)
    finally:
        await proxy.stop()


@pytest.mark.browser
async def test_freshness_is_at_the_top_and_an_expired_code_is_marked(
    sqlite_only, live_server, browser, db, artifacts
):
    url, name = await _card_for(db, live_server.url, sca_name="Osric Longstride")
    page = await browser.new_page()  # 390 × 844
    await page.goto(url)
    await _saved(page)
    valid_until = dt.datetime.fromisoformat(
        await page.locator("#check-slot").get_attribute("data-valid-until")
    )

    async def state_at_the_top() -> str:
        box = await page.locator("#freshness").bounding_box()
        assert box is not None and box["y"] == 0 and box["height"] < 844 / 4
        return f"{await page.locator('#freshness-word').text_content()}"

    assert await state_at_the_top() == "Live"
    live_server.stop()
    await page.reload()
    await page.wait_for_selector("body[data-freshness=offline]")
    assert await state_at_the_top() == "Offline"
    assert "since" in await page.locator("#freshness").inner_text()
    assert await page.locator("#check-slot").get_attribute("data-state") == "valid"

    # A day later, still without signal: stale, but the code itself is still valid.
    now = dt.datetime.now(dt.UTC)
    await page.clock.set_fixed_time(now + dt.timedelta(hours=25))
    await page.reload()
    await page.wait_for_selector("body[data-freshness=stale]")
    assert await state_at_the_top() == "Stale"
    assert await page.locator("#check-slot").get_attribute("data-state") == "valid"
    assert not await page.locator("#qr-expired").is_visible()

    # Past the code's own expiry: the QR is marked expired, not shown as valid.
    await page.clock.set_fixed_time(valid_until + dt.timedelta(minutes=1))
    await page.reload()
    await page.wait_for_selector("#check-slot[data-state=expired]")
    assert await page.locator("#qr-expired").is_visible()
    caption = await page.locator("#check-caption").inner_text()
    # On the organisation's clock, as the caption it replaces ("valid until … UTC").
    assert f"This check code expired {valid_until:%Y-%m-%d %H:%M} UTC." in caption
    assert "Marshals: scan" not in await page.locator("#check-caption").inner_text()
    await page.get_by_role("heading", name=name).wait_for()
    await page.screenshot(path=str(artifacts / "card-offline-code-expired.png"), full_page=True)


@pytest.mark.browser
async def test_a_saved_card_says_when_its_membership_has_expired_since(
    sqlite_only, live_server, browser, db
):
    """The membership ends today; the card was saved green. Offline after the
    organisation's midnight, the saved card says the membership has expired instead of
    "Current member" and "Valid until" (the marshal's check would say EXPIRED)."""
    today = dt.datetime.now(dt.UTC).date()  # the organisation's date (time_zone UTC)
    url, name = await _card_for(
        db, live_server.url, sca_name="Edith Lastday", membership_expires_on=today
    )
    page = await browser.new_page()
    await page.goto(url)
    await _saved(page)
    headline = page.locator(".headline")
    assert await headline.text_content() == "Current member"
    live_server.stop()
    midnight = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(), dt.UTC)
    await page.clock.set_fixed_time(midnight + dt.timedelta(minutes=5))
    await page.reload()
    await page.get_by_role("heading", name=name).wait_for()
    await page.locator(".headline", has_text="Membership expired").wait_for(timeout=10_000)
    card = await page.locator("#card").inner_text()
    assert f"Expired on {today.isoformat()}" in card
    assert "Valid until" not in card and "Current member" not in card
    assert "membership expired" in card  # the status sentence agrees


@pytest.mark.browser
async def test_a_saved_card_marks_an_authorization_that_has_expired_since(
    sqlite_only, live_server, browser, db
):
    """An authorization's last day is today; the card was saved with it as current.
    Offline after the organisation's midnight the row says it has expired (the marshal's
    check would no longer list it), while the membership, current, stays green."""
    today = dt.datetime.now(dt.UTC).date()  # the organisation's date (time_zone UTC)
    member = await make_verified(db, sca_name="Osric Lastbout")
    activity = await make_activity(db, name="Rapier Combat")
    await make_authorization(db, member, activity, expires_on=today)
    issued = await issue_link(
        db, member, None, MailContext(live_server.url, "secret-" + "z" * 32), today
    )
    await db.commit()
    page = await browser.new_page()
    await page.goto(f"{live_server.url}/card/{issued.token}")
    await _saved(page)
    row = page.locator("#sections li", has_text="Rapier Combat")
    assert await row.inner_text() == f"Rapier Combat Authorized expires {today.isoformat()}"
    live_server.stop()
    midnight = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(), dt.UTC)
    await page.clock.set_fixed_time(midnight + dt.timedelta(minutes=5))
    await page.reload()
    await page.get_by_role("heading", name=member.sca_name).wait_for()
    await row.filter(has_text="Expired").wait_for(timeout=10_000)
    assert await row.inner_text() == f"Rapier Combat Expired expired {today.isoformat()}"
    assert "tone-bad" in (await row.get_attribute("class") or "")
    assert await page.locator(".headline").text_content() == "Current member"


# The words of an element's text that are split across two lines.
_WORDS_SPLIT_ACROSS_LINES = """(selector) => {
  const text = document.querySelector(selector).firstChild, split = [], word = /\\S+/g;
  let m;
  while ((m = word.exec(text.data))) {
    const range = document.createRange();
    range.setStart(text, m.index);
    range.setEnd(text, m.index + m[0].length);
    if (new Set([...range.getClientRects()].map(r => Math.round(r.top))).size > 1) split.push(m[0]);
  }
  return split;
}"""


@pytest.mark.browser
async def test_a_long_name_stays_on_the_card_from_320_px(
    sqlite_only, live_server, browser, db, artifacts
):
    """The name the marshal compares with the person is never cut off the screen: long
    names, legal names and branches wrap inside the card at every phone width."""
    branch = await make_branch(db, "Canton of Saint Ursula of the Marches of Caer Darth")
    url, name = await _card_for(
        db,
        live_server.url,
        sca_name="Mistress Æthelflæd Wulfrūnsdóttir of Crescent Moon Vale",
        first_name="Maximiliana-Konstantina",
        branch_id=branch.id,
    )
    page = await browser.new_page()
    await page.goto(url)
    await page.get_by_role("heading", name=name).wait_for()
    for width in (320, 360, 390, 412):
        await page.set_viewport_size({"width": width, "height": 844})
        fits = await page.evaluate(
            """() => ({
              page: document.documentElement.scrollWidth,
              cut: [...document.querySelectorAll('.who h1, .who p, .band span')]
                .filter(el => el.getBoundingClientRect().right > window.innerWidth + 0.5
                              || el.scrollWidth > el.clientWidth + 1)
                .map(el => el.textContent),
            })"""
        )
        assert fits["page"] <= width and fits["cut"] == [], (width, fits)
        # Its ordinary words stay whole beside the photo ("Wulfrūnsdó / ttir" at 320 px
        # before the name's size followed the screen's).
        assert await page.evaluate(_WORDS_SPLIT_ACROSS_LINES, ".who h1") == [], width
    await page.set_viewport_size({"width": 320, "height": 844})
    await page.screenshot(path=str(artifacts / "card-320-long-name.png"))


def _release(root: Path, into: Path) -> Path:
    """A copy of the app as deployed: what a new release changes is changed in the copy."""
    for part in ("server", "pwa", "templates", "static"):
        shutil.copytree(root / part, into / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(root / "manage.py", into / "manage.py")  # what the server is started with
    return into


def _next_release(release: Path) -> str:
    """A release with a changed card.js: a new ?v= in the page and in the worker (new shell)."""
    sw, page = release / "pwa" / "sw.js", release / "templates" / "cards" / "card.html"
    old = re.search(r"/pwa/card\.js\?v=(\d+)", page.read_text())
    assert old is not None
    new = f"/pwa/card.js?v={int(old.group(1)) + 1}"
    shell = re.search(r'var SHELL = "tessera-shell-v(\d+)"', sw.read_text())
    assert shell is not None
    new_shell = f"tessera-shell-v{int(shell.group(1)) + 1}"
    page.write_text(page.read_text().replace(old.group(0), new))
    sw.write_text(
        sw.read_text()
        .replace(old.group(0), new)
        .replace(shell.group(0), f'var SHELL = "{new_shell}"')
    )
    return new_shell


@pytest.mark.browser
async def test_a_new_release_does_not_strand_the_saved_card(
    sqlite_only, database_url, db, tmp_path, artifacts
):
    """The phone's browser takes the new worker on its own update check (it does so at
    least daily, even while the installed card only refreshes its data), without the page
    being saved again: the saved page still names last release's card.js. Offline, that
    card must still open whole, QR and all."""
    release = _release(ROOT, tmp_path / "release")
    server = LiveServer(tmp_path / "live", database_url, root=release)
    server.log_path.parent.mkdir(parents=True, exist_ok=True)
    server.start()
    try:
        url, name = await _card_for(db, server.url, sca_name="Hawise of the New Release")
        profile = tmp_path / "phone"
        async with _phone(profile) as phone:
            page = await phone.new_page()
            await page.goto(url)
            await _saved(page)

            server.stop()  # the release
            new_shell = _next_release(release)
            server.start()
            await page.evaluate(
                "navigator.serviceWorker.getRegistration('/card/').then(r => r.update())"
            )
            await _wait_for_async(
                lambda: page.evaluate(
                    f"caches.keys().then(k => k.includes('{new_shell}') && k.length === 2)"
                )
            )
            # A day on, the browser's own HTTP cache no longer answers for last release's files.
            cdp = await phone.new_cdp_session(page)
            await cdp.send("Network.clearBrowserCache")
    finally:
        server.stop()

    async with _phone(profile) as phone:  # at the event, no signal, the browser starts cold
        page = await phone.new_page()
        await page.goto(url)
        await page.get_by_role("heading", name=name).wait_for()
        await page.wait_for_selector("body[data-freshness=offline]")
        assert await page.locator("#qr svg").is_visible()
        assert await page.locator("#freshness-word").text_content() == "Offline"
        await page.screenshot(path=str(artifacts / "card-offline-after-release.png"))


async def _wait_for_async(condition, within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(0.2)


@pytest.mark.browser
async def test_dates_on_the_card_never_break_at_a_hyphen_from_320_px(
    sqlite_only, live_server, browser, db, artifacts
):
    """On a 320 px phone "Spear Authorized expires 2030-11-11" came out as "…2030-11-" and
    "11" on the next line. Every date on the card (authorizations, membership, the code's
    caption) stays whole at every phone width, as the server draws the page and as the
    card app draws it again."""
    from tests.test_check_page_browser import BROKEN_DATES_JS

    member = await make_verified(db, sca_name="Brannoc of Stonebridge")
    today = dt.date.today()
    for n, name in enumerate(
        ["Spear", "Weapon and Shield", "Two-Weapon", "Great Weapon", "Combat Archery",
         "Youth Rapier Marshal", "Cut and Thrust", "Target Archery Marshal-in-Training"]
    ):  # fmt: skip
        activity = await make_activity(db, "Armored Combat", name)
        await make_authorization(db, member, activity, expires_on=today + dt.timedelta(400 + n))
    issued = await issue_link(
        db, member, None, MailContext(live_server.url, "secret-" + "z" * 32), today
    )
    await db.commit()
    url = f"{live_server.url}/card/{issued.token}"

    async def look(page, how: str) -> None:
        for width in (320, 340, 360, 375, 390, 412):
            await page.set_viewport_size({"width": width, "height": 844})
            dates = await page.evaluate(BROKEN_DATES_JS)
            assert len(dates["found"]) >= 9, dates  # the rows, the membership, the caption
            assert dates["broken"] == [], f"{how} at {width} px: {dates['broken']}"

    page = await browser.new_page()
    await page.route("**/pwa/card.js*", lambda route: route.abort())  # the page as sent
    await page.goto(url)
    await look(page, "as the server draws it")
    await page.close()

    page = await browser.new_page()
    await page.goto(url)
    await _saved(page)
    await look(page, "as the card app draws it")
    await page.set_viewport_size({"width": 320, "height": 844})
    await page.screenshot(path=str(artifacts / "card-320-dates.png"), full_page=True)


@pytest.mark.browser
async def test_an_expired_code_is_told_on_the_organisations_clock_by_its_zone_name(
    sqlite_only, live_server, browser, db
):
    """An Alaskan kingdom's card says "Code valid until … AKST"; once that has passed
    offline, the card says when it expired in the same words, not in "GMT-9"."""
    from server.settings.store import set_setting

    await set_setting(db, "time_zone", "America/Anchorage", None)
    await db.commit()
    url, name = await _card_for(db, live_server.url, sca_name="Osric Longstride")
    page = await browser.new_page()
    await page.goto(url)
    await _saved(page)
    until = dt.datetime.fromisoformat(
        await page.locator("#check-slot").get_attribute("data-valid-until")
    )
    stamp = until.astimezone(ZoneInfo("America/Anchorage")).strftime("%Y-%m-%d %H:%M %Z")
    assert stamp in await page.locator("#check-caption").inner_text()
    live_server.stop()
    await page.clock.set_fixed_time(until + dt.timedelta(minutes=1))
    await page.reload()
    await page.wait_for_selector("#check-slot[data-state=expired]")
    caption = await page.locator("#check-caption").inner_text()
    assert f"This check code expired {stamp}." in caption, caption


@pytest.mark.browser
async def test_a_wifi_sign_in_page_does_not_replace_the_cards_saved_script(
    sqlite_only, live_server, db, tmp_path
):
    """Behind the hall's Wi-Fi portal the card opens from the phone, and the worker's
    background refresh of card.js got the portal's page — and saved it as card.js. Later,
    without signal, the card had no QR code and no freshness line. The saved files stay."""
    url, name = await _card_for(db, live_server.url, sca_name="Osric Longstride")
    profile = tmp_path / "phone"
    async with _phone(profile) as phone:  # the first visit, at home
        page = await phone.new_page()
        await page.goto(url)
        await _saved(page)

    async def hall_wifi(route) -> None:
        body = "<html><h1>Welcome to the Hall Wi-Fi</h1><p>Accept the terms.</p></html>"
        await route.fulfill(status=200, content_type="text/html", body=body)

    async with _phone(profile) as phone:  # at the hall, behind its Wi-Fi portal
        await phone.route("**/pwa/**", hall_wifi)
        page = await phone.new_page()
        await page.goto(url)
        await page.get_by_role("heading", name=name).wait_for()
        await page.wait_for_timeout(1500)  # the worker's background refresh of its files

    live_server.stop()  # later, no signal at all
    async with _phone(profile) as phone:
        page = await phone.new_page()
        await page.goto(url)
        await page.wait_for_selector("body[data-freshness=offline]")
        await page.locator("#qr svg").wait_for()
        assert await page.locator("#freshness-word").text_content() == "Offline"
