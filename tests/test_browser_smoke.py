from __future__ import annotations

import pytest


@pytest.mark.browser
async def test_login_page_renders_in_chromium_without_errors(sqlite_only, live_server, browser):
    page = await browser.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("requestfailed", lambda r: problems.append(r.url))
    await page.goto(live_server.url + "/login")
    assert await page.get_by_role("heading", name="Log in").is_visible()
    assert await page.get_by_label("Email").is_visible()
    assert problems == []
