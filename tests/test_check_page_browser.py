"""The live check page on phone screens in Chromium: every word fits, dates stay whole,
a link that holds no code says UNKNOWN, "log in" comes back to the same check."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest
from playwright.async_api import expect
from sqlalchemy import select

from server.checks import codes, keyring
from server.checks.models import CheckEntry
from server.checks.revocations import revoke_codes
from tests.activities_fixtures import make_activity, make_authorization
from tests.factories import PASSWORD, make_branch, make_member, make_staff

NOW = dt.datetime.now(dt.UTC)
TODAY = NOW.date()
WIDTHS = (320, 360, 390, 412)
LONG_NAME = "Mistress Æthelflæd Wulfrūnsdóttir of Crescent Moon Vale"
LONG_BRANCH = "Canton of Saint Ursula of the Marches of Caer Darth"

# Dates (with a time, where one follows) whose text spans more than one line.
BROKEN_DATES_JS = r"""() => {
  const pattern = /\d{4}-\d{2}-\d{2}( \d{2}:\d{2}( UTC)?)?/g;
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const found = [];
  const broken = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    for (const match of node.data.matchAll(pattern)) {
      const range = document.createRange();
      range.setStart(node, match.index);
      range.setEnd(node, match.index + match[0].length);
      const tops = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
      found.push(match[0]);
      if (tops.size > 1) broken.push(match[0]);
    }
  }
  return { found, broken };
}"""

# The page is no wider than the screen, and one-word results stay on one line.
FITS_JS = """() => {
  const word = document.querySelector('.word');
  const lines = new Set([...word.getClientRects()].map(r => r.top)).size;
  const height = word.getBoundingClientRect().height;
  const lineHeight = parseFloat(getComputedStyle(word).lineHeight);
  return {
    pageWidth: document.documentElement.scrollWidth,
    screen: window.innerWidth,
    word: word.textContent,
    wordLines: Math.round(height / lineHeight),
    wordOverflows: word.scrollWidth > word.clientWidth + 1,
  };
}"""


async def _members_for_every_result(db, data_dir: Path) -> dict[str, str]:
    """A code (path) whose live check gives each result, for long names and branches."""
    ring = keyring.load_or_create(data_dir)
    branch = await make_branch(db, name=LONG_BRANCH)
    verified = {
        "sca_name": LONG_NAME,
        "branch_id": branch.id,
        "membership_number": "D19902026",
        "membership_expires_on": TODAY + dt.timedelta(days=300),
        "verified_at": NOW,
    }
    made = {
        "ok": (await make_member(db, **verified), NOW),
        "membership_expired": (
            await make_member(db, **{**verified, "membership_expires_on": TODAY - dt.timedelta(1)}),
            NOW,
        ),
        "unverified": (
            await make_member(db, sca_name=LONG_NAME, branch_id=branch.id),
            NOW,
        ),
        "minor_needs_parent": (
            await make_member(db, birth_year=TODAY.year - 10, **verified),
            NOW,
        ),
        "deactivated": (await make_member(db, deactivated_at=NOW, **verified), NOW),
        "code_expired": (await make_member(db, **verified), NOW - dt.timedelta(hours=80)),
        "revoked": (await make_member(db, **verified), NOW - dt.timedelta(hours=2)),
        "unknown": (await make_member(db, deleted_at=NOW, **verified), NOW),
    }
    await revoke_codes(db, made["revoked"][0], None, "Lost card")
    await db.commit()
    return {
        result: "/check/" + codes.mobile_code(ring, member.public_id, when)
        for result, (member, when) in made.items()
    }


@pytest.mark.browser
async def test_every_result_word_and_date_fits_phone_screens(
    sqlite_only, live_server, browser, db, artifacts
):
    marshal = await make_staff(db, ["check_cards"], sca_name="Marshal Maud")
    paths = await _members_for_every_result(db, Path(live_server.env["TESSERA_DATA_DIR"]))
    page = await browser.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    # A request the next navigation aborts (the favicon of a page left at once) is no fault.
    page.on(
        "requestfailed",
        lambda r: None if r.failure == "net::ERR_ABORTED" else problems.append(f"failed: {r.url}"),
    )
    page.on(
        "response", lambda r: problems.append(f"{r.status}: {r.url}") if r.status == 404 else None
    )

    async def look_at_every_result(who: str) -> None:
        for width in WIDTHS:
            await page.set_viewport_size({"width": width, "height": 800})
            for result, path in paths.items():
                await page.goto(live_server.url + path)
                fits = await page.evaluate(FITS_JS)
                where = f"{who}, {result} at {width} px"
                assert fits["pageWidth"] <= fits["screen"], f"{where}: page is {fits}"
                assert not fits["wordOverflows"], where
                if " " not in fits["word"]:
                    assert fits["wordLines"] == 1, f"{where}: {fits['word']} is broken"
                dates = await page.evaluate(BROKEN_DATES_JS)
                assert dates["broken"] == [], f"{where}: dates broken at a hyphen"
                if width == 320 and result == "deactivated":
                    await page.screenshot(path=str(artifacts / f"check-320-{who}-deactivated.png"))

    await look_at_every_result("anonymous")

    # "log in" on the anonymous page comes back to this very check, as a marshal.
    await page.set_viewport_size({"width": 320, "height": 800})
    await page.goto(live_server.url + paths["ok"])
    await page.get_by_role("link", name="log in").click()
    await page.get_by_label("Email").fill(marshal.email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_url(live_server.url + paths["ok"])
    await expect(page.get_by_role("heading", name="For the marshal")).to_be_visible()
    await expect(page.locator(".word")).to_have_text("OK")
    dates = await page.evaluate(BROKEN_DATES_JS)
    assert any("UTC" in d for d in dates["found"])  # the marshal's issue and expiry times

    await look_at_every_result("marshal")

    # A scan next: straight to the scanner.
    await page.get_by_role("link", name="Scan the next card").click()
    await page.wait_for_url(live_server.url + "/check/scan/")
    assert problems == []


@pytest.mark.browser
async def test_a_link_without_a_code_answers_unknown_and_is_logged(
    sqlite_only, live_server, browser, db, artifacts
):
    page = await browser.new_page()
    await page.set_viewport_size({"width": 320, "height": 700})
    response = await page.goto(live_server.url + "/check/hello-world")
    assert response is not None and response.status == 200
    await expect(page.locator(".word")).to_have_text("UNKNOWN")
    await expect(page.locator(".reason")).to_contain_text("not a Tessera check code")
    await page.screenshot(path=str(artifacts / "check-hello-world.png"))
    # A scan next from the anonymous page: the scanner asks the marshal to log in first.
    await page.get_by_role("link", name="Scan the next card").click()
    await page.wait_for_url(lambda url: "/login" in url and "next=/check/scan/" in url)

    for _ in range(50):  # the log is written a fraction of a second after the check
        query = select(CheckEntry.result, CheckEntry.member_id, CheckEntry.checker_id)
        entries = (await db.execute(query.add_columns(CheckEntry.reason))).all()
        await db.rollback()
        if entries:
            break
        await asyncio.sleep(0.1)
    assert [tuple(e)[:3] for e in entries] == [("unknown", None, None)]
    assert "not a Tessera check code" in entries[0][3]


@pytest.mark.browser
async def test_a_marshal_with_long_authorizations_reads_them_at_320_px(
    sqlite_only, live_server, browser, db, artifacts
):
    marshal = await make_staff(db, ["check_cards"], sca_name="Marshal Maud")
    member = await make_member(
        db,
        sca_name=LONG_NAME,
        membership_number="D19902026",
        membership_expires_on=TODAY + dt.timedelta(days=300),
        verified_at=NOW,
    )
    for name in ("Two-Weapon and Great Weapon (Marshal-in-Training)", "Cut-and-Thrust Rapier"):
        activity = await make_activity(db, "Armored Combat and Cut-and-Thrust", name)
        await make_authorization(db, member, activity, expires_on=TODAY + dt.timedelta(400))
    await db.commit()
    ring = keyring.load_or_create(Path(live_server.env["TESSERA_DATA_DIR"]))
    path = "/check/" + codes.mobile_code(ring, member.public_id, NOW)
    page = await browser.new_page()
    await page.set_viewport_size({"width": 320, "height": 800})
    await page.goto(f"{live_server.url}/login?next={path}")
    await page.get_by_label("Email").fill(marshal.email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_url(live_server.url + path)
    await expect(page.get_by_text("Two-Weapon and Great Weapon")).to_be_visible()
    fits = await page.evaluate(FITS_JS)
    assert fits["pageWidth"] <= 320
    assert (await page.evaluate(BROKEN_DATES_JS))["broken"] == []
    await page.screenshot(
        path=str(artifacts / "check-320-marshal-authorizations.png"), full_page=True
    )
