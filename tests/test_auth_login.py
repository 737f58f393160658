from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from server.members.models import Member
from tests.factories import PASSWORD, clients_from, csrf_from, guess_at_once, login, make_member


def _error(response) -> str:
    """The login page's error message."""
    return response.text.split('role="alert"', 1)[1].split("</", 1)[0]


async def test_login_and_logout(client, db):
    member = await make_member(db, email="Anna@Example.org")
    await db.commit()
    response = await login(client, "anna@example.org")
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    token = await csrf_from(client, "/login")
    response = await client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 303
    refreshed = (await db.execute(select(Member).where(Member.id == member.id))).scalar_one()
    await db.refresh(refreshed)
    assert refreshed.last_login is not None


async def test_wrong_password_counts_and_locks(client, db):
    member = await make_member(db, email="bob@example.org")
    await db.commit()
    for _ in range(5):
        response = await login(client, "bob@example.org", "wrong password!")
        assert response.status_code == 400
        # The same words as for an unknown address: the lock tells nobody it exists.
        assert "do not match" in response.text
    await db.refresh(member)
    assert member.failed_login_attempts == 5
    assert member.locked_until > dt.datetime.now(dt.UTC) + dt.timedelta(minutes=4)
    await db.commit()
    # The right password is refused while locked, in the same words as a wrong one: a
    # guesser cannot tell which of the passwords tried while locked was right. The
    # attempt is counted (and extends the lock) without its password being checked.
    response = await login(client, "bob@example.org", PASSWORD)
    assert response.status_code == 400
    assert _error(response) == _error(await login(client, "nobody@example.org", "x"))
    assert "do not match" in response.text and "locked" in response.text
    await db.refresh(member)
    assert member.failed_login_attempts == 6
    # Once the lock has passed, success clears the counter.
    member.locked_until = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    await db.commit()
    response = await login(client, "bob@example.org", PASSWORD)
    assert response.status_code == 303
    await db.refresh(member)
    assert member.failed_login_attempts == 0


async def test_post_without_csrf_is_refused(client, db):
    await make_member(db, email="carl@example.org")
    await db.commit()
    response = await client.post("/login", data={"email": "carl@example.org", "password": PASSWORD})
    assert response.status_code == 403
    assert "did not come from this site" in response.text


async def test_security_headers(client):
    response = await client.get("/login")
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"]


async def test_wrong_passwords_sent_at_the_same_moment_still_lock(app, db):
    """A guesser firing from many addresses at once: every failure counts, the fifth
    locks, and then even the right password is refused."""
    member = await make_member(db, email="burst@example.org")
    await db.commit()
    guessers = clients_from(app, "198.51.100.", 8)
    answers = await guess_at_once(guessers, member.email)
    assert [r.status_code for r in answers] == [400] * 8
    await db.refresh(member)
    assert member.failed_login_attempts == 8
    assert member.locked_until is not None
    await db.commit()
    response = await login(guessers[0], member.email, PASSWORD)
    assert response.status_code == 400 and "do not match" in response.text
    for c in guessers:
        await c.aclose()
