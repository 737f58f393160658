"""The auth card printed to PDF by headless Chromium: panel size, A4 pages, every row."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from playwright.async_api import expect
from pypdf import PdfReader

from tests.activities_fixtures import make_activity, make_authorization
from tests.factories import PASSWORD, make_member
from tests.pdf_marks import PX_PER_MM, ink_between, marks, mm, render_pages

TODAY = dt.date.today()
MM = 96 / 25.4  # CSS pixels per millimetre
A4_POINTS = (595.28, 841.89)


async def _login(page, base, email):
    await page.goto(base + "/login")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_url(lambda url: "/login" not in url)


@pytest.mark.browser
async def test_thirty_authorizations_overflow_cleanly_onto_panels_in_the_pdf(
    sqlite_only, live_server, browser, db, artifacts
):
    member = await make_member(db, sca_name="Sir Brannoc")
    names = []
    for i in range(30):
        group = ["Armored Combat", "Rapier", "Youth Combat", "Equestrian", "Archery"][i % 5]
        activity = await make_activity(db, group, f"Form {i + 1:02d}")
        await make_authorization(
            db, member, activity, expires_on=TODAY + dt.timedelta(days=100 + i)
        )
        names.append(activity.name)
    await db.commit()

    page = await browser.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    await page.set_viewport_size({"width": 900, "height": 1200})
    await _login(page, live_server.url, member.email)
    await page.goto(f"{live_server.url}/members/{member.id}/auth-card?paper=a4")
    await page.emulate_media(media="print")

    panels = await page.eval_on_selector_all(
        ".panel",
        """els => els.map(e => ({cls: e.className, w: e.getBoundingClientRect().width,
            h: e.getBoundingClientRect().height, fits: e.scrollHeight <= e.clientHeight + 1}))""",
    )
    assert {(round(p["w"] / MM, 1), round(p["h"] / MM, 1)) for p in panels} == {(85.6, 54.0)}
    assert all(p["fits"] for p in panels), "a panel's content overflows its 54 mm"
    backs = [p for p in panels if "back" in p["cls"]]
    assert len(backs) >= 3  # 30 rows and 5 headings do not fit on one back
    assert await page.locator("h2", has_text="Authorizations (continued)").count() == len(backs) - 1
    assert await page.locator(".fold").count() == len(panels) // 2
    assert await page.locator(".cut").count() == 4 * (len(panels) // 2)

    pdf = await page.pdf(prefer_css_page_size=True)
    (artifacts / "auth-card-30-authorizations.pdf").write_bytes(pdf)
    reader = PdfReader(io.BytesIO(pdf))
    for pdf_page in reader.pages:
        size = (float(pdf_page.mediabox.width), float(pdf_page.mediabox.height))
        assert size == pytest.approx(A4_POINTS, abs=1)
    text = "\n".join(p.extract_text() for p in reader.pages)
    missing = [n for n in names if n not in text]
    assert missing == []
    assert "Sir Brannoc" in text and f"Printed on {TODAY.isoformat()}" in text
    await page.emulate_media(media="screen")
    await page.screenshot(path=str(artifacts / "auth-card-30-authorizations.png"), full_page=True)
    assert problems == []


LONG_SCA_NAME = "Mistress Genoveva Catalina de la Cruz y Montoya de Castilla, OL, OP"
LONG_BRANCH = "Barony of the Shire of Crescent Moon Vale of the Northern Marches"
LONG_ACTIVITIES = [
    (
        "Armored Combat and Combat Archery",
        "Two-Weapon and Great Weapon Combat (Marshal-in-Training)",
    ),
    ("Armored Combat and Combat Archery", "Spear, Pole-arm and Two-Handed Sword Combat"),
    ("Armored Combat and Combat Archery", "Combat Archery and Siege Engines"),
    ("Rapier and Cut-and-Thrust Combat", "Cut-and-Thrust Rapier with Parrying Dagger and Buckler"),
    ("Rapier and Cut-and-Thrust Combat", "Case of Rapiers"),
    ("Youth Armored Combat (Divisions 1 to 3)", "Youth Combat Marshal"),
    ("Equestrian Activities", "Mounted Games, Crest Combat and Foam Jousting (Marshal)"),
    ("Equestrian Activities", "Ground Crew"),
    ("Target Archery and Thrown Weapons", "Thrown Weapons Range Marshal-in-Training"),
    ("Target Archery and Thrown Weapons", "Target Archery"),
] * 2

# Every element on a panel whose text does not fit its box, and every clipped text.
CUT_OFF_JS = """() => {
  const cut = [];
  for (const panel of document.querySelectorAll('.panel')) {
    if (panel.scrollHeight > panel.clientHeight + 1 || panel.scrollWidth > panel.clientWidth + 1)
      cut.push(`${panel.className}: content ${panel.scrollWidth}x${panel.scrollHeight}`);
    const box = panel.getBoundingClientRect();
    for (const el of panel.querySelectorAll('p, h2, span')) {
      const style = getComputedStyle(el);
      const r = el.getBoundingClientRect();
      if (style.textOverflow === 'ellipsis' && el.scrollWidth > el.clientWidth)
        cut.push(`ellipsis: ${el.textContent}`);
      if (el.scrollWidth > el.clientWidth + 1 && style.display !== 'inline')
        cut.push(`too wide: ${el.textContent}`);
      if (r.width && (r.right > box.right + 0.5 || r.bottom > box.bottom + 0.5))
        cut.push(`outside the panel: ${el.textContent}`);
    }
  }
  return cut;
}"""


def _squeezed(text: str) -> str:
    return "".join(text.split())


@pytest.mark.browser
async def test_the_longest_realistic_values_print_whole(
    sqlite_only, live_server, browser, db, artifacts
):
    from server.members.models import Branch

    branch = Branch(name=LONG_BRANCH)
    db.add(branch)
    await db.flush()
    member = await make_member(
        db,
        sca_name=LONG_SCA_NAME,
        first_name="Maximiliana Alexandrina",
        middle_name="Featherstonehaugh",
        last_name="Cholmondeley-Wetherington",
        branch_id=branch.id,
        membership_number="D19902026",
        membership_expires_on=dt.date(2027, 9, 30),
        verified_at=dt.datetime.now(dt.UTC),
    )
    for number, (group, name) in enumerate(LONG_ACTIVITIES):
        activity = await make_activity(
            db, group, f"{name} ({number + 1})" if number >= 10 else name
        )
        await make_authorization(
            db, member, activity, expires_on=dt.date(2027, 9, 30) - dt.timedelta(days=number)
        )
    await db.commit()

    page = await browser.new_page()
    await page.set_viewport_size({"width": 900, "height": 1200})
    await _login(page, live_server.url, member.email)
    await page.goto(f"{live_server.url}/members/{member.id}/auth-card")
    await page.wait_for_selector("body[data-fitted]")
    await page.emulate_media(media="print")
    assert await page.evaluate(CUT_OFF_JS) == []
    scales = await page.eval_on_selector_all(".panel", "els => els.map(e => e.dataset.scale)")
    # The server's line count holds: the backs need no shrinking; the front little.
    assert all(float(s) >= 0.8 for s in scales), scales
    backs = await page.locator(".panel.back").count()
    assert backs >= 3

    pdf = await page.pdf(prefer_css_page_size=True)
    (artifacts / "auth-card-longest-values.pdf").write_bytes(pdf)
    text = _squeezed("".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages))
    expected = [
        LONG_SCA_NAME,
        "Maximiliana Alexandrina Featherstonehaugh Cholmondeley-Wetherington",
        LONG_BRANCH,
        "Membership D19902026 — expires 2027-09-30",
        *{group for group, _ in LONG_ACTIVITIES},
        *(name for _, name in LONG_ACTIVITIES[:10]),
        *(
            f"expires {(dt.date(2027, 9, 30) - dt.timedelta(days=n)).isoformat()}"
            for n in range(20)
        ),
    ]
    missing = [value for value in expected if _squeezed(value) not in text]
    assert missing == []
    await page.emulate_media(media="screen")
    await page.screenshot(path=str(artifacts / "auth-card-longest-values.png"), full_page=True)


CARD_W, CARD_H = 2 * 85.6, 54.0  # a folded pair, cut out
TOLERANCE = 0.15  # mm: 1.8 px at 300 dpi


def _cluster(values: list[float], gap: float = 3) -> list[list[float]]:
    groups: list[list[float]] = []
    for value in sorted(values):
        if groups and value - groups[-1][-1] <= gap:
            groups[-1].append(value)
        else:
            groups.append([value])
    return groups


def _pairs_on(page_pixels) -> int:
    """Measure one page: every pair's marks lie on its cut lines and sit on this page with
    its fold line. Returns how many pairs the page holds."""
    vertical, horizontal = marks(page_pixels)
    columns = _cluster([v.at for v in vertical])
    rows = _cluster([h.at for h in horizontal])
    assert len(columns) == 2, f"vertical marks at x = {[mm(c[0]) for c in columns]} mm"
    left, right = (sum(c) / len(c) for c in columns)
    assert mm(right - left) == pytest.approx(CARD_W, abs=TOLERANCE)
    assert len(rows) % 2 == 0, f"horizontal marks at y = {[mm(r[0]) for r in rows]} mm"
    fold = (left + right) / 2
    for top_row, bottom_row in zip(rows[::2], rows[1::2], strict=True):
        top, bottom = sum(top_row) / len(top_row), sum(bottom_row) / len(bottom_row)
        assert mm(bottom - top) == pytest.approx(CARD_H, abs=TOLERANCE)
        # Two horizontal marks on each cut line, outside the card, left and right.
        for y in (top, bottom):
            on_line = [h for h in horizontal if abs(h.at - y) <= 3]
            assert sorted(h.end < left for h in on_line) == [False, True]
            assert all(h.end < left or h.start > right for h in on_line)
        # Two vertical marks on each side edge, above and below the card.
        for x in (left, right):
            on_line = [v for v in vertical if abs(v.at - x) <= 3 and top - 80 < v.start < bottom]
            on_line += [v for v in vertical if abs(v.at - x) <= 3 and top < v.end < bottom + 80]
            assert sorted(v.end < top for v in on_line) == [False, True]
            assert all(v.end < top or v.start > bottom for v in on_line)
        # The fold line runs down the middle, beyond both cut lines, on this page.
        beyond = 3.5 * PX_PER_MM
        assert ink_between(page_pixels, fold, top - beyond, top - 1) > 0
        assert ink_between(page_pixels, fold, bottom + 1, bottom + beyond) > 0
        assert ink_between(page_pixels, left + (fold - left) / 2, top - beyond, top - 1) == 0
    return len(rows) // 2


@pytest.mark.browser
async def test_cut_marks_lie_on_the_cut_lines_and_batch_pages_keep_each_pair_whole(
    sqlite_only, live_server, browser, db, artifacts
):
    from server.members.models import Branch
    from tests.factories import make_staff

    office = await make_staff(db, ["manage_members"])
    branch = Branch(name="Barony of Batch Printing")
    db.add(branch)
    await db.flush()
    today = dt.date.today()
    activity = await make_activity(db, "Rapier", "Single Rapier")
    printed = []
    for n in range(9):
        member = await make_member(
            db,
            sca_name=f"Batch Member {n:02d}",
            branch_id=branch.id,
            membership_number=f"D1990{n:04d}",
            membership_expires_on=today + dt.timedelta(days=300),
            verified_at=dt.datetime.now(dt.UTC),
        )
        printed.append(member.sca_name)
        for i in range(25 if n in (2, 6) else 1):  # two cards run onto a second pair
            extra = await make_activity(db, f"Group {i % 4}", f"Form {n}-{i}") if i else activity
            await make_authorization(db, member, extra, expires_on=today + dt.timedelta(days=90))
    await make_member(
        db,
        sca_name="Deactivated Dorcas",
        branch_id=branch.id,
        deactivated_at=dt.datetime.now(dt.UTC),
    )
    await db.commit()

    page = await browser.new_page()
    await page.set_viewport_size({"width": 900, "height": 1200})
    await _login(page, live_server.url, office.email)
    await page.goto(f"{live_server.url}/auth-cards")
    await page.get_by_label("Branch (with the branches below it)").select_option(
        label="Barony of Batch Printing"
    )
    await page.locator("#f-paper").select_option(label="A4")
    await (
        page.locator("form", has_text="A branch")
        .get_by_role("button", name="Show the cards")
        .click()
    )
    await page.wait_for_selector("body[data-fitted]")
    await expect(page.locator(".left-out")).to_contain_text("1 member with another status left out")
    pairs = await page.locator(".pair").count()
    assert pairs == 11  # nine fronts and backs, and two cards with a second pair
    await page.emulate_media(media="print")
    pdf = await page.pdf(prefer_css_page_size=True)
    (artifacts / "auth-cards-batch.pdf").write_bytes(pdf)

    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    assert all(name in text for name in printed)
    assert "Deactivated Dorcas" not in text
    pages = render_pages(pdf)
    assert len(pages) == 3  # four pairs to an A4 page
    assert sum(_pairs_on(pixels) for pixels in pages) == pairs

    # The same on Letter paper.
    await page.emulate_media(media="screen")
    await page.get_by_role("link", name="Letter").click()
    await page.wait_for_selector("body[data-fitted]")
    await page.emulate_media(media="print")
    letter = await page.pdf(prefer_css_page_size=True)
    (artifacts / "auth-cards-batch-letter.pdf").write_bytes(letter)
    sizes = {
        (round(float(p.mediabox.width)), round(float(p.mediabox.height)))
        for p in PdfReader(io.BytesIO(letter)).pages
    }
    assert sizes == {(612, 792)}
    assert sum(_pairs_on(pixels) for pixels in render_pages(letter)) == pairs


@pytest.mark.browser
async def test_the_sheet_prints_at_full_size_on_any_paper(
    sqlite_only, live_server, browser, db, artifacts
):
    """The sheet as linked (no paper chosen) names no page size: printed on Letter (the
    PDF default of Chromium) or A4 the pair still cuts to 171.2 × 54 mm. A sheet that
    named A4 was shrunk to fit Letter: its marks measured 161 × 50.8 mm."""
    member = await make_member(
        db,
        sca_name="Sir Brannoc",
        membership_number="D19902026",
        membership_expires_on=TODAY + dt.timedelta(days=300),
        verified_at=dt.datetime.now(dt.UTC),
    )
    await db.commit()
    page = await browser.new_page()
    await _login(page, live_server.url, member.email)
    await page.goto(f"{live_server.url}/members/{member.id}/auth-card")
    await page.wait_for_selector("body[data-fitted]")
    await expect(page.locator(".toolbar")).to_contain_text("The printer's paper")
    for paper, options in (("letter", {}), ("a4", {"format": "A4"})):
        pdf = await page.pdf(**options)
        (artifacts / f"auth-card-on-{paper}.pdf").write_bytes(pdf)
        pages = render_pages(pdf)
        assert len(pages) == 1
        assert _pairs_on(pages[0]) == 1, paper
