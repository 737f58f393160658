"""Cancelling an upcoming group membership in real Chromium, at 320 px and by keyboard."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from server.groups.models import GroupMembership
from tests.factories import PASSWORD, make_group, make_member, make_staff
from tests.reload import reload

pytestmark = pytest.mark.browser
TODAY = dt.date.today()


async def test_an_officer_cancels_an_upcoming_membership_by_keyboard_on_a_phone(
    sqlite_only, live_server, browser, db
):
    officer = await make_staff(db, [], is_superuser=True, email="officer@example.org")
    appointee = await make_member(db, sca_name="Appointee Aldith")
    group = await make_group(db, "Office of the Chronicler")
    upcoming = GroupMembership(
        group_id=group.id,
        member_id=appointee.id,
        since=TODAY + dt.timedelta(days=14),
        role="Chronicler-elect",
    )
    db.add(upcoming)
    await db.commit()
    page = await browser.new_page()
    await page.set_viewport_size({"width": 320, "height": 640})
    await page.goto(live_server.url + "/login")
    await page.get_by_label("Email").fill(officer.email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_load_state()
    await page.goto(f"{live_server.url}/groups/{group.id}")
    button = page.get_by_role(
        "button", name=re.compile(r"^Cancel before it begins.*Appointee Aldith")
    )
    await button.focus()
    await page.keyboard.press("Enter")
    await page.wait_for_load_state()
    assert "cancelled: it never begins" in await page.locator(".flash").first.inner_text()
    previous = page.locator("section", has=page.locator("#h-previous"))
    assert "cancelled before it began" in await previous.inner_text()
    assert "Chronicler-elect" in await previous.inner_text()
    width, client = await page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert width <= client
    await reload(db, upcoming)
    assert upcoming.is_cancelled and upcoming.ended_by_id == officer.id
