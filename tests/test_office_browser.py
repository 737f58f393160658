"""The office's pages in real Chromium (issue 15): the confirmation flow without JavaScript,
no horizontal overflow at 320 px on any page a superuser can reach, tap targets of at least
24 px, the grouped menu (a disclosure on phones, open on wide screens, ``aria-current``),
the registration form's focus on its error summary, and colour settings that show the colour.
"""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from server.cards.models import CardLink
from server.groups.models import GroupMembership
from server.mail.models import OutboxMessage
from server.members.models import Member
from server.proofs.models import MembershipProof
from tests.applicant_fixtures import make_agreement, make_applicant
from tests.factories import PASSWORD, make_branch, make_group, make_member, make_staff
from tests.test_photos import jpeg_bytes

pytestmark = pytest.mark.browser
TODAY = dt.date.today()
# Print sheets are laid out in millimetres at the size they are printed (85.6 mm panels
# in folded pairs, issue 13): on a phone the sheet scrolls inside its own box, the page
# itself is no wider than the screen.
NOT_PAGES = re.compile(
    r"^/(static/|logout|card/|check/(?!scan))|\.(csv|json|png|jpg|pdf|svg)$|/(image|photo)$"
)
OVERFLOW = "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
# Boxes that scroll sideways (a wide table on a phone) with nothing in them a keyboard can
# reach: such a box cannot be scrolled without a mouse or a finger (WCAG 2.1.1).
UNREACHABLE_SCROLLERS = """() => [...document.querySelectorAll('body *')]
  .filter(el => ['auto', 'scroll'].includes(getComputedStyle(el).overflowX)
                && el.scrollWidth > el.clientWidth + 1)
  .filter(el => el.tabIndex < 0 && !el.querySelector(
    'a[href], button, input, select, textarea, summary, [tabindex]:not([tabindex="-1"])'))
  .map(el => `${el.tagName.toLowerCase()}.${el.className}`)"""


async def _register(db) -> dict[str, Member]:
    """A register with something on every page: long names, links, a minor, a proof."""
    kingdom = await make_branch(db, "Kingdom of the Exceedingly Long Name", kind="kingdom")
    barony = await make_branch(
        db, "Barony of the Far-Flung Marches Beyond the River", parent_id=kingdom.id
    )
    root = await make_staff(
        db,
        [],
        is_superuser=True,
        sca_name="Root Rowena",
        email="root.rowena.of.the.marches@example.org",
    )
    parent = await make_member(
        db,
        sca_name="Parent Petronella von Hohenzollern-Sigmaringen",
        email="petronella.von.hohenzollern.sigmaringen@example.org",
        branch_id=barony.id,
        membership_number="123456789",
        membership_expires_on=TODAY + dt.timedelta(days=20),
        verified_at=dt.datetime.now(dt.UTC),
    )
    kid = await make_member(db, sca_name="Kid Kai", birth_year=TODAY.year - 10, parent_id=parent.id)
    expired = await make_member(
        db,
        sca_name="Expired Eadric",
        membership_number="9",
        membership_expires_on=TODAY - dt.timedelta(days=3),
    )
    db.add(CardLink(member_id=parent.id, token_hash="b" * 64, live_member_id=parent.id))
    group = await make_group(db, "Office of the Exchequer", permissions=["export_members"])
    db.add(GroupMembership(group_id=group.id, member_id=parent.id, since=group.since))
    await make_agreement(db, code="LONGCODE-2026", organisation="Guild of Very Long Names")
    await make_applicant(db, email="applicant.with.a.very.long.address@example.org")
    db.add(
        MembershipProof(
            member_id=expired.id,
            membership_number="9",
            image=jpeg_bytes(exif=False),
            width=480,
            height=360,
        )
    )
    db.add(OutboxMessage(kind="x", to_addr="q@example.org", subject="Queued", body_text="b"))
    await db.commit()
    return {"root": root, "parent": parent, "kid": kid, "expired": expired}


async def _log_in(page, url: str, email: str) -> None:
    await page.goto(url + "/login")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_load_state()


async def test_confirming_a_deactivation_works_without_javascript(
    sqlite_only, live_server, browser, db
):
    people = await _register(db)
    parent = people["parent"]
    page = await browser.new_page()
    cdp = await browser.new_cdp_session(page)
    await cdp.send("Emulation.setScriptExecutionDisabled", {"value": True})
    await _log_in(page, live_server.url, people["root"].email)
    await page.goto(f"{live_server.url}/members/{parent.id}")
    await page.get_by_role("link", name="Deactivate…").click()
    await page.wait_for_load_state()
    assert await page.get_by_role("heading", name=re.compile("^Deactivate: Parent")).is_visible()
    assert await page.get_by_text("Kid Kai").is_visible()  # whose parent link would end
    # Confirming without a reason: the browser itself asks for it (the server would too).
    confirm_url = page.url
    await page.get_by_role("button", name="Deactivate").click()
    reason = page.get_by_label("Reason for the deactivation")
    assert await reason.evaluate("el => el.validity.valueMissing")
    assert page.url == confirm_url
    await db.refresh(parent)
    await db.commit()
    assert parent.status == "verified"
    await reason.fill("Moved to another kingdom")
    await page.get_by_role("button", name="Deactivate").click()
    await page.wait_for_load_state()
    assert await page.get_by_text("is deactivated").first.is_visible()
    await db.refresh(parent)
    await db.commit()
    assert parent.status == "deactivated"
    assert parent.deactivation_reason == "Moved to another kingdom"
    # Cancelling the card-link revocation changes nothing.
    await page.goto(f"{live_server.url}/members/{parent.id}/card-links/revoke")
    await page.get_by_role("link", name="Cancel").click()
    await page.wait_for_load_state()
    assert page.url.endswith(f"/members/{parent.id}")
    live = await db.scalar(select(CardLink.live_member_id).where(CardLink.member_id == parent.id))
    await db.commit()
    assert live == parent.id


async def _crawl(page, base: str, start: list[str]) -> list[str]:
    """Every page reachable by links from ``start``, one per address pattern."""
    seen: set[str] = set()
    queue = list(start)
    visited: list[str] = []
    problems: list[str] = []
    while queue:
        target = queue.pop(0)
        key = re.sub(r"/\d+(?=/|$)", "/{id}", urlsplit(target).path)
        if key in seen:
            continue
        seen.add(key)
        response = await page.goto(base + target)
        assert response is not None and response.status < 500, target
        visited.append(target)
        width, client = await page.evaluate(OVERFLOW)
        if width > client:
            problems.append(f"{target}: {width} px wide in {client} px")
        for box in await page.evaluate(UNREACHABLE_SCROLLERS):
            problems.append(f"{target}: {box} scrolls sideways but a keyboard cannot reach it")
        for href in await page.evaluate(
            "[...document.querySelectorAll('a[href]')].map(a => a.getAttribute('href'))"
        ):
            path = urlsplit(href).path
            if href.startswith("/") and not href.startswith("//") and not NOT_PAGES.search(path):
                queue.append(href.split("#")[0])
    assert not problems, problems
    return visited


async def test_no_page_overflows_at_320_px(sqlite_only, live_server, browser, db):
    people = await _register(db)
    page = await browser.new_page()
    await page.set_viewport_size({"width": 320, "height": 640})
    await _log_in(page, live_server.url, people["root"].email)
    # From the dashboard, and from the member who has the most controls (a live card
    # link, a child, a group): one page per address pattern is visited.
    visited = await _crawl(page, live_server.url, ["/", f"/members/{people['parent'].id}"])
    patterns = {re.sub(r"/\d+(?=/|$)", "/{id}", urlsplit(v).path) for v in visited}
    # The crawl reached the register, the office's new pages and the settings.
    for expected in (
        "/members",
        "/members/{id}",
        "/members/{id}/deactivate",
        "/members/{id}/card-links/revoke",
        "/membership-proofs/{id}",
        "/member-codes/{id}",
        "/applicants/{id}",
        "/admin/settings",
        "/me",
        "/me/membership-proof",
        "/members/{id}/auth-card",
    ):
        assert expected in patterns, (expected, sorted(patterns))
    # The batch sheet too (a form's answer, not a link), both papers.
    for paper in ("a4", "letter"):
        await page.goto(f"{live_server.url}/auth-cards?ids={people['parent'].id}&paper={paper}")
        width, client = await page.evaluate(OVERFLOW)
        assert width <= client, (paper, width)
        assert await page.locator(".pair").count() >= 1
    assert len(patterns) >= 40
    # The member's own pages too.
    member_page = await browser.new_page()
    await member_page.set_viewport_size({"width": 320, "height": 640})
    await browser.clear_cookies()
    await _log_in(member_page, live_server.url, people["parent"].email)
    own_card = f"/members/{people['parent'].id}/auth-card"
    for path in ("/me", "/me/cards", "/me/membership-proof", own_card, "/register", "/login"):
        await member_page.goto(live_server.url + path)
        width, client = await member_page.evaluate(OVERFLOW)
        assert width <= client, path


TARGETS = (
    ".site-menu a, .site-menu summary, .site-header button, .work-item a, summary, "
    "button, a.button, th a.sort, .pagination a, a.cell-link"
)
SMALL = f"""() => [...document.querySelectorAll({TARGETS!r})]
  .filter(el => el.offsetParent !== null)
  .map(el => [el.textContent.trim().slice(0, 30), el.getBoundingClientRect()])
  .filter(([, r]) => r.width < 24 || r.height < 24)
  .map(([t, r]) => `${{t}} ${{Math.round(r.width)}}x${{Math.round(r.height)}}`)"""


async def test_tap_targets_and_the_menu_on_a_phone_and_a_desktop(
    sqlite_only, live_server, browser, db
):
    people = await _register(db)
    parent = people["parent"]
    for n in range(55):  # two pages of members: the pagination links are targets too
        await make_member(db, sca_name=f"Filler {n:02d}")
    await db.commit()
    page = await browser.new_page()
    await page.set_viewport_size({"width": 320, "height": 640})
    await _log_in(page, live_server.url, people["root"].email)
    menu = page.locator("details.site-menu")
    for path in ("/", "/members", f"/members/{parent.id}", f"/members/{parent.id}/status"):
        await page.goto(live_server.url + path)
        assert await menu.get_attribute("open") is None  # collapsed on a phone
        assert not await page.get_by_role("link", name="Audit log").is_visible()
        await page.get_by_text("Menu").click()
        assert await page.get_by_role("link", name="Audit log").is_visible()
        small = await page.evaluate(SMALL)
        assert small == [], (path, small)
    await page.goto(f"{live_server.url}/members/{parent.id}")
    await page.get_by_text("Menu").click()
    current = page.locator(".site-menu a[aria-current]")
    assert await current.count() == 1 and await current.inner_text() == "Members"
    await page.goto(f"{live_server.url}/members")
    assert await current.get_attribute("aria-current") == "page"
    # The menu's groups are labelled.
    for group in ("Register", "Activities", "Checks", "Administration", "You"):
        assert await page.locator(".menu-heading", has_text=group).count() == 1
    # On a wide screen the menu is open without a click, and the header stays compact.
    await page.set_viewport_size({"width": 1280, "height": 800})
    await page.goto(live_server.url + "/")
    assert await page.get_by_role("link", name="Audit log").is_visible()
    assert not await page.locator(".site-menu > summary").is_visible()
    assert await page.evaluate(SMALL) == []


async def test_registration_errors_take_the_focus(sqlite_only, live_server, browser, db):
    await make_branch(db, "Shire of Testing")
    await db.commit()
    page = await browser.new_page()
    await page.goto(live_server.url + "/register")
    await page.get_by_label("SCA name").fill("Gwen")
    await page.get_by_role("button", name="Apply").click()
    await page.wait_for_load_state()
    assert await page.evaluate("document.activeElement.id") == "error-summary"
    # On a phone each error's link is a target of its own: 24 px, clear of the next one
    # (a link wrapped over two lines was one ragged box overlapping its neighbours).
    await page.set_viewport_size({"width": 320, "height": 640})
    boxes = await page.evaluate(
        "[...document.querySelectorAll('#error-summary a')].map(a => a.getClientRects())"
        ".map(rects => [...rects].map(r => [r.top, r.bottom, r.height]))"
    )
    assert len(boxes) >= 5
    for rects in boxes:
        assert len(rects) == 1 and rects[0][2] >= 24, rects
    for above, below in zip(boxes, boxes[1:], strict=False):
        assert below[0][0] >= above[0][1], (above, below)
    summary = page.locator("#error-summary")
    await summary.get_by_role("link", name=re.compile("^Branch")).click()
    assert await page.evaluate("document.activeElement.id") == "f-branch_id"
    assert await page.get_by_label("Branch").get_attribute("aria-invalid") == "true"


async def test_colour_settings_show_the_colour(sqlite_only, live_server, browser, db):
    people = await _register(db)
    page = await browser.new_page()
    await page.set_viewport_size({"width": 1024, "height": 800})
    await _log_in(page, live_server.url, people["root"].email)
    await page.goto(live_server.url + "/admin/settings")
    picker = page.get_by_label("Card colour", exact=True)
    box = await picker.bounding_box()
    assert box and box["height"] >= 30 and box["width"] >= 40
    # The swatch inside the picker is painted in the saved colour.
    shot = await picker.screenshot()
    from io import BytesIO

    from PIL import Image

    image = Image.open(BytesIO(shot)).convert("RGB")
    middle = image.getpixel((image.width // 2, image.height // 2))
    assert max(abs(a - b) for a, b in zip(middle, (0x5B, 0x2A, 0x86), strict=True)) <= 12
    assert await page.get_by_text("#5b2a86").first.is_visible()


# Every link, button and form control outside running text: a link is in running text
# when the block around it says more than the link itself (WCAG 2.5.8's inline exception).
STANDALONE_SMALL = """() => [...document.querySelectorAll(
    'main a[href], main button, main select, main summary, footer a[href], '
    + 'input:not([type=hidden]):not(.visually-hidden)')]
  .filter(el => el.offsetParent !== null)
  .filter(el => {
    if (el.tagName !== 'A' || getComputedStyle(el).display !== 'inline') return true;
    const block = el.closest('p, li, td, dd, dt, div, th');
    return !block || block.textContent.trim().length <= el.textContent.trim().length + 3;
  })
  .map(el => [el.tagName + ' ' + (el.textContent.trim() || el.name || el.type).slice(0, 30),
              el.getBoundingClientRect()])
  .filter(([, r]) => r.width < 24 || r.height < 24)
  .map(([t, r]) => `${t} ${Math.round(r.width)}x${Math.round(r.height)}`)"""


async def test_links_on_their_own_line_and_checkboxes_are_24_px(
    sqlite_only, live_server, browser, db
):
    """ "Cancel", "← Back", "Forgot your password?", the check page's footer links and
    every checkbox are targets of at least 24 × 24 px on a 320 px phone."""
    people = await _register(db)
    page = await browser.new_page()
    await page.set_viewport_size({"width": 320, "height": 640})
    found: dict[str, list[str]] = {}

    async def look(path: str) -> None:
        response = await page.goto(live_server.url + path)
        assert response is not None and response.status == 200, path
        small = await page.evaluate(STANDALONE_SMALL)
        if small:
            found[path] = small

    # A mail to a member: the outbox viewer links the member ("#3" was 23.6 × 27 px).
    mail = OutboxMessage(
        kind="x", to_addr="k@example.org", subject="S", body_text="b", member_id=people["kid"].id
    )
    db.add(mail)
    await db.commit()
    assert people["kid"].id < 10
    for path in ("/login", "/password-reset", "/register", "/check/hello-world"):
        await look(path)
    await _log_in(page, live_server.url, people["root"].email)
    parent = people["parent"].id
    for path in (
        "/",
        "/me",
        "/me/membership-proof",
        f"/members/{parent}",
        f"/members/{parent}/deactivate",
        f"/members/{parent}/card-links/revoke",
        "/groups/new",
        "/auth-cards",
        f"/members/{parent}/auth-card",
        f"/admin/outbox/{mail.id}",
    ):
        await look(path)
    assert found == {}


async def test_a_membership_card_opened_at_full_size_shows_without_console_errors(
    sqlite_only, live_server, browser, db
):
    """ "Open the picture to see it at full size": the browser's own image page is not
    blocked by the site's style policy (a console error per style it applies)."""
    people = await _register(db)
    proof = await db.scalar(select(MembershipProof.id))
    await db.commit()
    page = await browser.new_page()
    await _log_in(page, live_server.url, people["root"].email)
    await page.goto(f"{live_server.url}/membership-proofs/{proof}")
    link = page.get_by_role("link", name=re.compile("^Membership card uploaded by"))
    full_size = await link.get_attribute("href")
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    await page.goto(live_server.url + full_size)
    assert await page.evaluate("document.images[0].naturalWidth") > 0
    assert errors == []


async def test_an_auth_card_of_a_long_unbroken_name_fits_a_320_px_phone(
    sqlite_only, live_server, browser, db
):
    """The print sheet's title names the member: a 50-letter SCA name without a space
    pushed the page 166 px past a 320 px screen (the sheet scrolls in its own box; the
    page itself must not)."""
    root = await make_staff(db, [], is_superuser=True, email="root@example.org")
    long_name = "Ullasdóttirþorgeirsdóttirhalldórsdóttirgunnarsdóttir of the Marches"
    member = await make_member(db, sca_name=long_name)
    await db.commit()
    page = await browser.new_page()
    await page.set_viewport_size({"width": 320, "height": 640})
    await _log_in(page, live_server.url, root.email)
    title = page.get_by_role("heading", name=re.compile("Ullasdóttir"))
    for path in (f"/members/{member.id}/auth-card", f"/auth-cards?ids={member.id}&paper=a4"):
        await page.goto(live_server.url + path)
        assert await page.locator(".pair").count() >= 1
        width, client = await page.evaluate(OVERFLOW)
        assert width <= client, (path, width)
    await page.goto(f"{live_server.url}/members/{member.id}/auth-card")
    assert await title.is_visible()


async def test_the_skip_link_is_a_24_px_target_focused_or_not(
    sqlite_only, live_server, browser, db
):
    """Measuring every link of a page with getBoundingClientRect found "Skip to content"
    at 122 × 23 px (it took its padding only when focused)."""
    page = await browser.new_page()
    await page.goto(live_server.url + "/login")
    skip = page.get_by_role("link", name="Skip to content")
    box = await skip.bounding_box()
    assert box is not None and box["height"] >= 24 and box["x"] + box["width"] < 0
    await page.keyboard.press("Tab")
    assert await skip.evaluate("el => el === document.activeElement")
    box = await skip.bounding_box()
    assert box is not None and box["height"] >= 24 and box["x"] >= 0
