"""The registration form in Chromium: a bad code reveals "submit anyway"; ticking it applies."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from server.applicants.models import Applicant


@pytest.mark.browser
async def test_submit_anyway_flow_in_chromium(sqlite_only, live_server, browser, db, artifacts):
    page = await browser.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    await page.goto(live_server.url + "/register")
    await page.get_by_label("SCA name").fill("Gwen of the Glen")
    await page.get_by_label("Legal first name").fill("Gwen")
    await page.get_by_label("Legal last name").fill("Glen")
    await page.get_by_label("Email").fill("gwen@example.org")
    await page.get_by_label("Birth month").select_option("3")
    await page.get_by_label("Birth year").fill(str(dt.date.today().year - 30))
    await page.get_by_label("Member code").fill("NO-SUCH-CODE")
    await page.get_by_label("I accept").check()
    assert await page.get_by_label("Submit anyway").count() == 0
    await page.get_by_role("button", name="Apply").click()
    await page.wait_for_load_state()
    inline = page.locator("#e-member_code")  # at its field (and in the summary at the top)
    assert await inline.get_by_text("This member code is unknown").is_visible()
    override = page.get_by_label("Submit anyway")
    assert await override.is_visible()
    await page.screenshot(path=str(artifacts / "registration-submit-anyway.png"), full_page=True)
    await override.check()
    await page.get_by_label("I accept").check()
    await page.get_by_role("button", name="Apply").click()
    await page.wait_for_load_state()
    assert await page.get_by_role("heading", name="Thank you, Gwen of the Glen").is_visible()
    # The only console message is the form's own 400 answer (inline errors).
    assert [p for p in problems if "status of 400" not in p] == []
    applicant = (await db.execute(select(Applicant))).scalar_one()
    assert applicant.code_override is True and applicant.member_code == "NO-SUCH-CODE"
