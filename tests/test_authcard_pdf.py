"""The auth card printed to PDF by headless Chromium: panel size, A4 pages, every row."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from pypdf import PdfReader

from tests.activities_fixtures import make_activity, make_authorization
from tests.factories import PASSWORD, make_member

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
    await page.goto(f"{live_server.url}/members/{member.id}/auth-card")
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
    assert await page.locator("h3", has_text="Authorizations (continued)").count() == len(backs) - 1
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
