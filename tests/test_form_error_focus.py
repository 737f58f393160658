"""A refused form takes the reader to what went wrong: the page's error message is the one
element that takes the focus when the page loads (``autofocus``, no script needed), so a
screen reader announces it and a keyboard user starts from it."""

from __future__ import annotations

import re

from tests.factories import csrf_from, login, make_member, make_staff


def _focused(page: str) -> list[str]:
    return re.findall(r"<[^>]*\bautofocus\b[^>]*>", page)


async def test_each_refused_office_form_focuses_its_error_message(client, db):
    member = await make_member(db, email="free@example.org")
    await make_member(db, email="taken@example.org")
    officer = await make_staff(db, ["manage_members", "manage_groups", "manage_settings"])
    await db.commit()
    await login(client, officer.email)
    refused = {
        f"/members/{member.id}/edit": {
            "version": str(member.version),
            "sca_name": "x",
            "email": "taken@example.org",
        },
        "/groups/new": {"name": "", "since": "2026-01-01"},
        "/admin/settings": {"card_color": "not a colour"},
    }
    for path, data in refused.items():
        token = await csrf_from(client, path)
        response = await client.post(path, data={**data, "csrf_token": token})
        assert response.status_code in (400, 409), (path, response.status_code)
        [focused] = _focused(response.text)
        assert 'role="alert"' in focused and 'tabindex="-1"' in focused, (path, focused)
