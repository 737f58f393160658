"""The offline scanner in Chromium: cached, verifies with the server down, uploads later."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import expect
from sqlalchemy import select

from server.checks import codes, keyring
from server.checks.models import CheckEntry
from server.checks.revocations import revoke_codes
from server.settings.store import set_setting
from tests.activities_fixtures import make_activity, make_authorization
from tests.check_fixtures import log_in_to_scanner, make_verified
from tests.factories import PASSWORD, make_branch, make_member, make_staff


def _check_link(live_server, member, issued: dt.datetime | None = None) -> str:
    """The check link on ``member``'s mobile card, signed with the live server's key."""
    ring = keyring.load_or_create(Path(live_server.env["TESSERA_DATA_DIR"]))
    code = codes.mobile_code(ring, member.public_id, issued or dt.datetime.now(dt.UTC))
    return codes.check_url(live_server.url, code)


async def _check_with_the_server_stopped(page, live_server, link: str) -> None:
    """The marshal's signal is gone: the scanner, reloaded from the phone, checks ``link``."""
    live_server.stop()
    await page.reload()
    await expect(page.locator("#netstate")).to_contain_text("Offline")
    await page.get_by_label("Or type or paste the code").fill(link)
    await page.get_by_role("button", name="Check", exact=True).click()
    await page.wait_for_selector("#result[data-mode=offline]")


@pytest.mark.browser
async def test_scanner_checks_offline_and_uploads_when_back(
    sqlite_only, live_server, browser, db, artifacts
):
    marshal = await make_staff(db, ["check_cards"], sca_name="Marshal Maud")
    member = await make_verified(db, sca_name="Aelfric")
    marshal_id, member_id = marshal.id, member.id
    link = _check_link(live_server, member)
    code = link.rsplit("/", 1)[1]
    base = live_server.url

    page = await browser.new_page()
    await log_in_to_scanner(page, base, marshal.email)
    await page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    await page.reload()
    assert await page.evaluate("navigator.serviceWorker.controller !== null")
    cdp = await browser.new_cdp_session(page)
    installability = await cdp.send("Page.getInstallabilityErrors")
    assert installability["installabilityErrors"] == []
    await expect(page.locator("#keys-state")).to_contain_text("key(s)")

    # Online, a scan is the live check (logged by the server, not queued).
    await page.get_by_label("Or type or paste the code").fill(link)
    await page.get_by_role("button", name="Check", exact=True).click()
    await page.wait_for_selector("#result[data-mode=live]")
    assert await page.locator("#r-word").text_content() == "OK"
    assert "Aelfric" in (await page.locator("#r-name").text_content() or "")

    live_server.stop()
    await page.reload()  # the page now comes from the service worker's cache
    await expect(page.locator("#netstate")).to_contain_text("Offline")
    await page.get_by_label("Or type or paste the code").fill(link)
    await page.get_by_role("button", name="Check", exact=True).click()
    await page.wait_for_selector("#result[data-mode=offline]")
    assert await page.locator("#r-word").text_content() == "OK"
    data = await page.locator("#r-data").text_content() or ""
    assert member.public_id in data and "Code issued" in data
    await page.screenshot(path=str(artifacts / "scanner-offline-ok.png"), full_page=True)

    tampered = code[:-3] + ("A" if code[-3] != "A" else "B") + code[-2:]
    await page.get_by_label("Or type or paste the code").fill(tampered)
    await page.get_by_role("button", name="Check", exact=True).click()
    await expect(page.locator("#r-word")).to_have_text("UNKNOWN")
    assert "altered or forged" in (await page.locator("#r-reason").text_content() or "")
    assert await page.locator("#queue-state").text_content() == "2"

    live_server.start()
    await page.get_by_role("button", name="Update and upload now").click()
    await expect(page.locator("#queue-state")).to_have_text("0", timeout=15000)

    entries = (
        (await db.execute(select(CheckEntry).where(CheckEntry.source == "offline"))).scalars().all()
    )
    assert sorted(e.result for e in entries) == ["ok", "unknown"]
    assert {e.checker_id for e in entries} == {marshal_id}
    ok = next(e for e in entries if e.result == "ok")
    assert ok.member_id == member_id
    assert ok.code_issued_at is not None


@pytest.mark.browser
async def test_logged_out_scanner_keeps_its_revocation_list_and_asks_to_log_in(
    sqlite_only, live_server, browser, db, artifacts
):
    marshal = await make_staff(db, ["check_cards"], sca_name="Marshal Maud")
    lost = await make_verified(db, sca_name="Lost Card Lars")
    await revoke_codes(db, lost, marshal.id, "Lost card")
    await db.commit()
    base = live_server.url
    page = await browser.new_page()
    await log_in_to_scanner(page, base, marshal.email)
    await expect(page.locator("#revoked-state")).to_contain_text("1 entries")
    await expect(page.locator("#netstate")).to_contain_text("Online")

    await browser.clear_cookies()  # the session ends (logged out elsewhere, expired)
    await page.get_by_role("button", name="Update and upload now").click()
    state = page.locator("#netstate")
    await expect(state).to_contain_text("Logged out")
    await expect(state).not_to_contain_text("Offline")
    await expect(page.locator("#revoked-state")).to_contain_text("1 entries")
    await page.screenshot(path=str(artifacts / "scanner-logged-out.png"), full_page=True)

    await state.get_by_role("link", name="Log in again").click()
    await page.get_by_label("Email").fill(marshal.email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_url(f"{base}/check/scan/")
    await expect(page.locator("#netstate")).to_contain_text("Online")


@pytest.mark.browser
async def test_offline_scanner_names_the_member_from_its_roster(
    sqlite_only, live_server, browser, db, artifacts
):
    marshal = await make_staff(db, ["check_cards"], sca_name="Marshal Maud")
    branch = await make_branch(db, name="Barony of the Lake")
    member = await make_verified(db, sca_name="Aelfric of the Lake", branch_id=branch.id)
    rapier = await make_activity(db, "Rapier", "Single Rapier")
    expires = dt.date.today() + dt.timedelta(days=40)
    await make_authorization(db, member, rapier, expires_on=expires)
    newcomer = await make_member(db, sca_name="Cador the Unverified", branch_id=branch.id)
    await db.commit()
    now = dt.datetime.now(dt.UTC)
    link = _check_link(live_server, member, now)
    unverified_link = _check_link(live_server, newcomer, now)

    page = await browser.new_page()
    await log_in_to_scanner(page, live_server.url, marshal.email)
    await page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    await page.reload()
    await expect(page.locator("#roster-state")).to_contain_text("3 members, as of")

    live_server.stop()
    await page.reload()  # the page from the worker's cache, the roster from Cache Storage
    await expect(page.locator("#netstate")).to_contain_text("Offline")
    await expect(page.locator("#roster-state")).to_contain_text("3 members")

    async def scan(text: str) -> None:
        await page.get_by_label("Or type or paste the code").fill(text)
        await page.get_by_role("button", name="Check", exact=True).click()
        await page.wait_for_selector("#result[data-mode=offline]")

    await scan(link)
    await expect(page.locator("#r-word")).to_have_text("OK")
    await expect(page.locator("#r-name")).to_have_text("Aelfric of the Lake — Barony of the Lake")
    await expect(page.locator("#r-mode")).to_contain_text("roster from")
    data = page.locator("#r-data")
    await expect(data).to_contain_text("Authorizations: Rapier — Single Rapier")
    await expect(data).to_contain_text(f"expires {expires.isoformat()}")
    await expect(data).to_contain_text("Name, branch and authorizations as of")
    await expect(data).to_contain_text(re.compile(r"minutes? ago"))
    await page.screenshot(path=str(artifacts / "scanner-offline-roster.png"), full_page=True)

    await scan(unverified_link)
    await expect(page.locator("#r-word")).to_have_text("UNVERIFIED")
    await expect(page.locator("#r-name")).to_contain_text("Cador the Unverified")

    await page.get_by_role("button", name="Forget the roster on this phone").click()
    await expect(page.locator("#roster-state")).to_have_text("not loaded")
    await scan(link)
    await expect(page.locator("#r-word")).to_have_text("OK")
    await expect(page.locator("#r-name")).to_have_text("")
    await expect(page.locator("#r-reason")).to_contain_text("No roster on this phone")
    assert await page.locator("#queue-state").text_content() == "3"


@pytest.mark.browser
async def test_the_roster_leaves_the_phone_when_old_or_no_longer_allowed(
    sqlite_only, live_server, browser, db
):
    from server.groups.models import GroupMembership

    marshal = await make_staff(db, ["check_cards"], sca_name="Marshal Maud")
    member = await make_verified(db, sca_name="Aelfric of the Lake")
    await db.commit()
    link = _check_link(live_server, member)
    page = await browser.new_page()
    await log_in_to_scanner(page, live_server.url, marshal.email)
    await expect(page.locator("#roster-state")).to_contain_text("2 members")

    # Fourteen days without an update: the scanner deletes it before using it.
    await page.evaluate(
        """() => { const meta = JSON.parse(localStorage.getItem('tessera.scan.roster'));
        meta.as_of -= 15 * 86400; localStorage.setItem('tessera.scan.roster', JSON.stringify(meta)); }"""
    )
    live_server.stop()
    await page.reload()
    await page.get_by_label("Or type or paste the code").fill(link)
    await page.get_by_role("button", name="Check", exact=True).click()
    await expect(page.locator("#r-reason")).to_contain_text("No roster on this phone")
    await expect(page.locator("#roster-state")).to_have_text("not loaded")
    assert await page.evaluate("caches.has('tessera-roster')") is False

    # Back online, a fresh roster; then the marshal's office ends: the next update deletes it.
    live_server.start()
    await page.get_by_role("button", name="Update and upload now").click()
    await expect(page.locator("#roster-state")).to_contain_text("2 members")
    membership = (
        await db.execute(select(GroupMembership).where(GroupMembership.member_id == marshal.id))
    ).scalar_one()
    membership.until = dt.date.today() - dt.timedelta(days=1)
    await db.commit()
    await page.get_by_role("button", name="Update and upload now").click()
    await expect(page.locator("#netstate")).to_contain_text("Not allowed")
    await expect(page.locator("#roster-state")).to_have_text("not loaded")
    assert await page.evaluate("caches.has('tessera-roster')") is False


PAGE_WIDTH = "[document.documentElement.scrollWidth, window.innerWidth]"


@pytest.mark.browser
async def test_the_scanner_fits_phone_screens_online_and_offline(
    sqlite_only, live_server, browser, db, artifacts
):
    """The scanner with its roster loaded, and an offline result for a long name with long
    authorizations, are no wider than a 320–412 px screen (the roster's date is one
    unbreakable run, and the offline-data list must not squeeze it off the screen)."""
    marshal = await make_staff(db, ["check_cards"], sca_name="Marshal Maud")
    branch = await make_branch(db, name="Canton of Saint Ursula of the Marches of Caer Darth")
    member = await make_verified(
        db, sca_name="Mistress Æthelflæd Wulfrūnsdóttir of Crescent Moon Vale", branch_id=branch.id
    )
    activity = await make_activity(
        db, "Armored Combat and Cut-and-Thrust", "Two-Weapon and Great Weapon (Marshal-in-Training)"
    )
    await make_authorization(db, member, activity, expires_on=dt.date.today() + dt.timedelta(400))
    await db.commit()
    link = _check_link(live_server, member)
    page = await browser.new_page()
    await page.set_viewport_size({"width": 320, "height": 700})
    await log_in_to_scanner(page, live_server.url, marshal.email)
    await page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    await expect(page.locator("#roster-state")).to_contain_text("members, as of")
    for width in (320, 360, 390, 412):
        await page.set_viewport_size({"width": width, "height": 700})
        scroll, screen = await page.evaluate(PAGE_WIDTH)
        assert scroll <= screen, f"scanner at {width} px is {scroll} px wide"
    await page.set_viewport_size({"width": 320, "height": 700})
    await page.screenshot(path=str(artifacts / "scanner-320-online.png"), full_page=True)

    await _check_with_the_server_stopped(page, live_server, link)
    await expect(page.locator("#r-data")).to_contain_text("Two-Weapon and Great Weapon")
    data = await page.locator("#r-data").inner_text()
    assert "ago" in data and not re.search(r"\b[01] minutes ago", data), data  # plain English
    scroll, screen = await page.evaluate(PAGE_WIDTH)
    assert scroll <= screen, f"offline result at 320 px is {scroll} px wide"
    await page.screenshot(path=str(artifacts / "scanner-320-offline-result.png"), full_page=True)


@pytest.mark.browser
async def test_the_scanner_opened_once_works_offline_after_a_cold_start(
    sqlite_only, live_server, db, tmp_path, artifacts
):
    """A marshal logs in to the scanner once, on a slow connection, sees it ready (online,
    roster loaded) and closes the browser. At the event, without signal, it opens and
    names the member: the page says it is ready only once it is kept on the phone."""
    from tests.test_card_browser import _phone

    marshal = await make_staff(db, ["check_cards"], sca_name="Marshal Maud")
    branch = await make_branch(db, name="Barony of the Lake")
    member = await make_verified(db, sca_name="Aelfric of the Lake", branch_id=branch.id)
    await db.commit()
    link = _check_link(live_server, member)
    profile = tmp_path / "phone"

    async def slow(route) -> None:  # the field's slow link, for the worker's downloads
        # A second a request (Chromium fetches the shell three at a time: about five
        # seconds in all) is slow enough: a page that said it was ready before the worker
        # had kept the shell would be closed, by the lines below, long before it had.
        if route.request.service_worker is not None:
            await asyncio.sleep(1)
        await route.continue_()

    async with _phone(profile) as phone:  # a fresh profile: no worker, nothing kept
        await phone.route("**/*", slow)
        page = await phone.new_page()
        await log_in_to_scanner(page, live_server.url, marshal.email)
        ready = page.locator("#netstate")
        await expect(ready).to_contain_text("Online", timeout=20_000)
        await expect(ready).to_contain_text("Kept on this phone for offline checks.")
        await expect(page.locator("#roster-state")).to_contain_text("members, as of")

    live_server.stop()
    async with _phone(profile) as phone:  # the phone's browser starts cold, no signal
        page = await phone.new_page()
        await page.goto(f"{live_server.url}/check/scan/")
        await expect(page.locator("#netstate")).to_contain_text("Offline")
        await page.get_by_label("Or type or paste the code").fill(link)
        await page.get_by_role("button", name="Check", exact=True).click()
        await page.wait_for_selector("#result[data-mode=offline]")
        await expect(page.locator("#r-word")).to_have_text("OK")
        await expect(page.locator("#r-name")).to_have_text(
            "Aelfric of the Lake — Barony of the Lake"
        )
        await page.screenshot(path=str(artifacts / "scanner-cold-offline.png"), full_page=True)


@pytest.mark.browser
async def test_a_check_link_opened_without_signal_is_checked_by_the_saved_scanner(
    sqlite_only, live_server, browser, db, artifacts
):
    """At the event the marshal scans a member's QR with the phone's own camera app: the
    browser opens the check link, and there is no signal. The scanner kept on the phone
    answers it, offline, instead of the browser's "no internet" page."""
    marshal = await make_staff(db, ["check_cards"], sca_name="Marshal Maud")
    branch = await make_branch(db, name="Barony of the Lake")
    member = await make_verified(db, sca_name="Aelfric of the Lake", branch_id=branch.id)
    await db.commit()
    link = _check_link(live_server, member)
    page = await browser.new_page()
    await log_in_to_scanner(page, live_server.url, marshal.email)
    await expect(page.locator("#netstate")).to_contain_text("Kept on this phone")
    await expect(page.locator("#roster-state")).to_contain_text("members, as of")

    live_server.stop()
    await page.goto(link)  # what the camera app opens
    await page.wait_for_selector("#result[data-mode=offline]")
    await expect(page.locator("#r-word")).to_have_text("OK")
    await expect(page.locator("#r-name")).to_have_text("Aelfric of the Lake — Barony of the Lake")
    await expect(page.locator("#r-mode")).to_contain_text("OFFLINE CHECK")
    assert await page.locator("#queue-state").text_content() == "1"  # uploaded when back
    await page.screenshot(path=str(artifacts / "check-link-offline.png"), full_page=True)


@pytest.mark.browser
async def test_a_new_release_keeps_the_scanner_of_a_logged_out_marshal(
    sqlite_only, database_url, db, tmp_path, artifacts
):
    """The marshal's session has ended; they open the scanner with signal and meet the login
    form (no time to log in) while the browser takes the new release's worker. At the event,
    without signal, the scanner must still open — not the login form."""
    from tests.live import ROOT, LiveServer
    from tests.test_card_browser import _release

    release = _release(ROOT, tmp_path / "release")
    server = LiveServer(tmp_path / "live", database_url, root=release)
    server.log_path.parent.mkdir(parents=True, exist_ok=True)
    server.start()
    try:
        marshal = await make_staff(db, ["check_cards"], sca_name="Marshal Maud")
        member = await make_verified(db, sca_name="Aelfric of the Lake")
        await db.commit()
        link = _check_link(server, member)
        from tests.test_card_browser import _phone

        async with _phone(tmp_path / "phone") as phone:
            page = await phone.new_page()
            await log_in_to_scanner(page, server.url, marshal.email)
            await expect(page.locator("#netstate")).to_contain_text("Kept on this phone")

            server.stop()  # the release
            sw = release / "static" / "scan" / "sw.js"
            old = re.search(r'const CACHE = "([^"]+)";', sw.read_text())
            assert old is not None
            new_cache = old.group(1) + "-next"
            sw.write_text(sw.read_text().replace(old.group(0), f'const CACHE = "{new_cache}";'))
            server.start()

            await phone.clear_cookies()  # the session ended
            await page.goto(f"{server.url}/check/scan/")
            await page.get_by_role("button", name="Log in").wait_for()
            # The browser's own update check (it runs one at least daily on its own).
            await page.evaluate(
                "navigator.serviceWorker.getRegistration('/check/scan/').then(r => r.update())"
            )
            for _ in range(100):
                if await page.evaluate(f"caches.has('{new_cache}')") and not await page.evaluate(
                    f"caches.has('{old.group(1)}')"
                ):
                    break
                await asyncio.sleep(0.2)
            else:
                raise AssertionError("the new worker was not installed")
            server.stop()  # at the event

            await page.goto(f"{server.url}/check/scan/")
            await expect(page.locator("#netstate")).to_contain_text("Offline")
            await page.get_by_label("Or type or paste the code").fill(link)
            await page.get_by_role("button", name="Check", exact=True).click()
            await expect(page.locator("#r-word")).to_have_text("OK")
            await expect(page.locator("#r-name")).to_contain_text("Aelfric of the Lake")
            await page.screenshot(path=str(artifacts / "scanner-after-release.png"))
    finally:
        server.stop()


@pytest.mark.browser
async def test_the_offline_scanner_gives_times_on_the_organisations_clock(
    sqlite_only, live_server, browser, db
):
    """A Berlin organisation's marshal, offline, reads the code's issue and expiry times
    and the roster's age in Berlin time (as the live check page gives them), not UTC."""
    await set_setting(db, "time_zone", "Europe/Berlin", None)
    marshal = await make_staff(db, ["check_cards"], sca_name="Marshal Mechthild")
    member = await make_verified(db, sca_name="Berthold")
    await db.commit()
    issued = dt.datetime.now(dt.UTC)
    link = _check_link(live_server, member, issued)
    zone = issued.astimezone(ZoneInfo("Europe/Berlin")).tzname()  # CET or CEST

    page = await browser.new_page()
    await log_in_to_scanner(page, live_server.url, marshal.email)
    await page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    await expect(page.locator("#roster-state")).to_contain_text("members, as of")
    assert f" {zone} (" in (await page.locator("#roster-state").text_content() or "")
    await _check_with_the_server_stopped(page, live_server, link)
    data = await page.locator("#r-data").inner_text()
    # The code is the day's (issued at the UTC day's start), valid 72 hours.
    berlin = ZoneInfo("Europe/Berlin")
    code_issued = codes.mobile_issue_time(issued).astimezone(berlin)
    code_until = (codes.mobile_issue_time(issued) + codes.MOBILE_VALIDITY).astimezone(berlin)
    assert f"Code issued\n{code_issued:%Y-%m-%d %H:%M} {code_issued.tzname()}" in data
    assert f"Valid until\n{code_until:%Y-%m-%d %H:%M} {code_until.tzname()}" in data
    assert "UTC" not in data


# Each space-separated word of the result (DEACTIVATED, CODE EXPIRED) on one line, and the
# result word no wider than its box.
WORD_FITS_JS = """() => {
  const word = document.getElementById('r-word');
  const text = word.firstChild;
  const broken = [];
  let at = 0;
  for (const part of word.textContent.split(' ')) {
    const range = document.createRange();
    range.setStart(text, at);
    range.setEnd(text, at + part.length);
    const tops = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
    if (tops.size > 1) broken.push(part);
    at += part.length + 1;
  }
  return { word: word.textContent, broken, overflows: word.scrollWidth > word.clientWidth + 1,
           pageWidth: document.documentElement.scrollWidth, screen: window.innerWidth };
}"""


@pytest.mark.browser
async def test_every_result_word_fits_the_scanner_from_320_px(
    sqlite_only, live_server, browser, db, artifacts
):
    """A marshal's phone of 320–412 px: DEACTIVATED, CODE EXPIRED, MINOR: NO PARENT … are
    never broken inside a word (DEACTIVATED came out as DEACTIVAT / ED at 320 px), live
    and offline."""
    from tests.test_check_page_browser import WIDTHS, _members_for_every_result

    marshal = await make_staff(db, ["check_cards"], sca_name="Marshal Maud")
    paths = await _members_for_every_result(db, Path(live_server.env["TESSERA_DATA_DIR"]))
    page = await browser.new_page()
    await log_in_to_scanner(page, live_server.url, marshal.email)
    await page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    await expect(page.locator("#roster-state")).to_contain_text("members, as of")

    async def look_at_every_result(mode: str) -> None:
        for width in WIDTHS:
            await page.set_viewport_size({"width": width, "height": 800})
            for result, path in paths.items():
                await page.get_by_label("Or type or paste the code").fill(live_server.url + path)
                await page.get_by_role("button", name="Check", exact=True).click()
                await page.wait_for_selector(f"#result[data-mode={mode}]")
                fits = await page.evaluate(WORD_FITS_JS)
                where = f"{mode}: {result} at {width} px"
                assert fits["broken"] == [], f"{where}: {fits['word']} is broken inside a word"
                assert not fits["overflows"], where
                assert fits["pageWidth"] <= fits["screen"], f"{where}: {fits}"
                reason = await page.locator("#r-reason").inner_text()
                if result == "revoked":  # when the card was reported lost, not "before then"
                    assert re.search(r"issued before \d{4}-\d\d-\d\d \d\d:\d\d UTC", reason)
                # Deactivated members are left out of the roster on purpose: not "joined since".
                assert "joined since" not in reason, f"{where}: {reason}"
                if width == 320 and result == "deactivated":
                    await page.screenshot(
                        path=str(artifacts / f"scanner-320-{mode}-deactivated.png")
                    )
                await page.evaluate(
                    "document.getElementById('result').removeAttribute('data-mode')"
                )

    await look_at_every_result("live")
    live_server.stop()
    await page.reload()
    await expect(page.locator("#netstate")).to_contain_text("Offline")
    await look_at_every_result("offline")


@pytest.mark.browser
async def test_an_american_organisations_offline_times_name_the_zone_as_its_cards_do(
    sqlite_only, live_server, browser, db
):
    """An Alaskan kingdom: the card's caption and the check page say "AKST"; offline the
    scanner said "GMT-9" for the same clock. It now names the zone the same way."""
    await set_setting(db, "time_zone", "America/Anchorage", None)
    marshal = await make_staff(db, ["check_cards"], sca_name="Marshal Mechthild")
    member = await make_verified(db, sca_name="Berthold")
    await db.commit()
    issued = dt.datetime.now(dt.UTC)
    link = _check_link(live_server, member, issued)
    local = issued.astimezone(ZoneInfo("America/Anchorage"))  # AKST or AKDT

    page = await browser.new_page()
    await log_in_to_scanner(page, live_server.url, marshal.email)
    await page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    await expect(page.locator("#roster-state")).to_contain_text("members, as of")
    await _check_with_the_server_stopped(page, live_server, link)
    data = await page.locator("#r-data").inner_text()
    # The roster's time, as clock.stamp writes it: a minute boundary may fall between
    # issuing the code and the roster's download.
    now = dt.datetime.now(dt.UTC).astimezone(ZoneInfo("America/Anchorage"))
    minutes = {f"{m:%Y-%m-%d %H:%M %Z}" for m in (local, now)}
    assert any(minute in data for minute in minutes), data
    assert "GMT" not in data


@pytest.mark.browser
@pytest.mark.parametrize("portal", ["page", "redirect"])
async def test_a_wifi_sign_in_page_does_not_replace_the_saved_roster(
    sqlite_only, live_server, browser, db, portal
):
    """At the event the marshal's phone joins the hall's Wi-Fi, whose sign-in portal
    answers every request with its own page (or a redirect to it). The scanner's next
    roster update got that page and saved it as the roster: offline the names were gone
    ("No roster on this phone"). The saved roster stays until the server sends another."""
    marshal = await make_staff(db, ["check_cards"], sca_name="Marshal Maud")
    member = await make_verified(db, sca_name="Aelfric of the Lake")
    await db.commit()
    link = _check_link(live_server, member)
    page = await browser.new_page()
    await log_in_to_scanner(page, live_server.url, marshal.email)
    await page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    await expect(page.locator("#roster-state")).to_contain_text("2 members, as of")

    async def hall_wifi(route) -> None:
        if portal == "redirect":
            await route.fulfill(status=302, headers={"Location": "/login?portal=hall"})
        else:
            body = "<html><h1>Welcome to the Hall Wi-Fi</h1><p>Accept the terms.</p></html>"
            await route.fulfill(status=200, content_type="text/html", body=body)

    await browser.route("**/check/scan/roster.json", hall_wifi)
    await page.get_by_role("button", name="Update and upload now").click()
    await page.wait_for_timeout(1000)
    await browser.unroute("**/check/scan/roster.json")
    await expect(page.locator("#roster-state")).to_contain_text("2 members, as of")

    await _check_with_the_server_stopped(page, live_server, link)
    await expect(page.locator("#r-word")).to_have_text("OK")
    await expect(page.locator("#r-name")).to_have_text("Aelfric of the Lake")


@pytest.mark.browser
async def test_a_wifi_sign_in_page_does_not_replace_the_saved_scanner(
    sqlite_only, live_server, browser, db
):
    """The hall's Wi-Fi portal answers the scanner page and its script with its own page.
    The worker saved that in their place (any 200 went into its cache), so once the
    portal was gone and the signal too the scanner did not open. It keeps its own files
    (and shows the saved scanner rather than the portal's page)."""
    marshal = await make_staff(db, ["check_cards"], sca_name="Marshal Maud")
    member = await make_verified(db, sca_name="Aelfric of the Lake")
    await db.commit()
    link = _check_link(live_server, member)
    page = await browser.new_page()
    await log_in_to_scanner(page, live_server.url, marshal.email)
    await page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    await expect(page.locator("#netstate")).to_contain_text("Kept on this phone")
    await expect(page.locator("#roster-state")).to_contain_text("2 members, as of")

    async def hall_wifi(route) -> None:
        body = "<html><h1>Welcome to the Hall Wi-Fi</h1><p>Accept the terms.</p></html>"
        await route.fulfill(status=200, content_type="text/html", body=body)

    for pattern in ("**/check/scan/", "**/static/scan/*", "**/static/css/site.css"):
        await browser.route(pattern, hall_wifi)
    await page.reload()  # the worker answers with the saved scanner, not the portal's page
    await expect(page.locator("#netstate")).to_be_visible()
    await browser.unroute_all()

    await _check_with_the_server_stopped(page, live_server, link)
    await expect(page.locator("#r-word")).to_have_text("OK")
    await expect(page.locator("#r-name")).to_have_text("Aelfric of the Lake")


@pytest.mark.browser
async def test_a_keyboard_user_sees_where_the_focus_is_on_the_photo_button(
    sqlite_only, live_server, browser, db
):
    """ "Scan a photo of a code" is a label for a hidden file input: tabbing from "Scan with
    camera" lands on the input, and the label it hides behind shows the focus (it showed
    nothing: the focus seemed lost between the camera button and the code field)."""
    marshal = await make_staff(db, ["check_cards"], sca_name="Marshal Maud")
    await db.commit()
    page = await browser.new_page()
    await log_in_to_scanner(page, live_server.url, marshal.email)
    await page.get_by_role("button", name="Scan with camera").focus()
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.id") == "scan-image"
    ring = await page.locator("label[for=scan-image]").evaluate(
        "l => [getComputedStyle(l).outlineStyle, parseFloat(getComputedStyle(l).outlineWidth)]"
    )
    assert ring[0] != "none" and ring[1] >= 2, ring
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.id") == "manual-code"
    ring = await page.locator("label[for=scan-image]").evaluate(
        "l => getComputedStyle(l).outlineStyle"
    )
    assert ring == "none"
