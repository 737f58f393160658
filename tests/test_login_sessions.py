"""Server-side login sessions: logout, password change, deactivation and "log out
everywhere" end them; idle timeout and absolute lifetime are settings."""

from __future__ import annotations

import datetime as dt
from contextlib import asynccontextmanager

import httpx
import pytest
from sqlalchemy import select, update

from server.auth.models import LoginSession
from server.auth.sessions import TOUCH_EVERY
from server.settings.store import set_setting
from server.web.sessions import COOKIE_NAME
from tests.factories import PASSWORD, csrf_from, login, make_member, make_staff, post_form


@asynccontextmanager
async def browser(app):
    """Another browser on the same server (its own cookie jar)."""
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50001))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def logged_in(client) -> bool:
    response = await client.get("/me")
    return response.status_code == 200


async def rows(db, member_id: int) -> list[LoginSession]:
    found = list(
        (
            await db.execute(
                select(LoginSession)
                .where(LoginSession.member_id == member_id)
                .order_by(LoginSession.id)
                .execution_options(populate_existing=True)
            )
        ).scalars()
    )
    await db.commit()
    return found


async def test_a_cookie_copied_before_logout_no_longer_opens_anything(app, client, db):
    member = await make_member(db)
    await db.commit()
    await login(client, member.email)
    copied = client.cookies[COOKIE_NAME]
    assert await post_form(client, "/logout", {}) is not None
    assert not await logged_in(client)
    async with browser(app) as thief:
        thief.cookies.set(COOKIE_NAME, copied)
        response = await thief.get("/me")
        assert response.status_code == 303 and response.headers["location"].startswith("/login")
    [row] = await rows(db, member.id)
    assert row.ended_at is not None and row.end_reason == "logout"


async def test_the_database_holds_only_a_hash_of_the_session_id(client, db):
    member = await make_member(db)
    await db.commit()
    await login(client, member.email)
    [row] = await rows(db, member.id)
    cookie = client.cookies[COOKIE_NAME]
    assert row.token_hash not in cookie and len(row.token_hash) == 64


async def test_password_change_ends_every_other_session_and_keeps_this_one(app, client, db):
    member = await make_member(db)
    await db.commit()
    async with browser(app) as phone:
        await login(phone, member.email)
        await login(client, member.email)
        token = await csrf_from(client, "/me")
        response = await client.post(
            "/me/password",
            data={
                "csrf_token": token,
                "current_password": PASSWORD,
                "password": "a brand new password",
                "password_again": "a brand new password",
            },
        )
        assert response.status_code == 303
        assert await logged_in(client)
        assert not await logged_in(phone)
    reasons = [r.end_reason for r in await rows(db, member.id)]
    assert reasons.count("password_change") == 2 and reasons.count("") == 1


async def test_deactivation_ends_all_of_the_members_sessions(app, client, db):
    member = await make_member(db)
    officer = await make_staff(db, ["manage_members"])
    await db.commit()
    async with browser(app) as victim:
        await login(victim, member.email)
        assert await logged_in(victim)
        await login(client, officer.email)
        token = await csrf_from(client, f"/members/{member.id}/status")
        response = await client.post(
            f"/members/{member.id}/deactivate",
            data={"csrf_token": token, "version": member.version, "reason": "left"},
        )
        assert response.status_code == 303
        assert not await logged_in(victim)
    [row] = await rows(db, member.id)
    assert row.end_reason == "deactivated"


async def test_log_out_everywhere_from_the_profile(app, client, db):
    member = await make_member(db)
    await db.commit()
    async with browser(app) as laptop:
        await login(laptop, member.email)
        await login(client, member.email)
        page = (await client.get("/me")).text
        assert "Where you are logged in" in page and "(this browser)" in page
        assert page.count("<li>") >= 2
        token = await csrf_from(client, "/me")
        response = await client.post("/me/logout-everywhere", data={"csrf_token": token})
        assert response.status_code == 303 and response.headers["location"] == "/login"
        assert not await logged_in(client)
        assert not await logged_in(laptop)
    assert {r.end_reason for r in await rows(db, member.id)} == {"logout_everywhere"}


async def test_idle_timeout_and_absolute_lifetime(client, db):
    member = await make_member(db)
    await db.commit()
    now = dt.datetime.now(dt.UTC)
    await login(client, member.email)
    [row] = await rows(db, member.id)
    assert dt.timedelta(hours=71) < row.idle_expires_at - now <= dt.timedelta(hours=72, minutes=1)
    assert dt.timedelta(days=13) < row.expires_at - now <= dt.timedelta(days=14, minutes=1)
    await db.execute(
        update(LoginSession)
        .where(LoginSession.id == row.id)
        .values(idle_expires_at=now - dt.timedelta(seconds=1))
    )
    await db.commit()
    assert not await logged_in(client)

    await login(client, member.email)
    row = (await rows(db, member.id))[-1]
    await db.execute(
        update(LoginSession)
        .where(LoginSession.id == row.id)
        .values(expires_at=now - dt.timedelta(seconds=1))
    )
    await db.commit()
    assert not await logged_in(client)


async def test_use_moves_the_idle_deadline_at_most_every_few_minutes(client, db):
    member = await make_member(db)
    await db.commit()
    await login(client, member.email)
    [row] = await rows(db, member.id)
    first_seen = row.last_seen_at
    assert await logged_in(client)
    [row] = await rows(db, member.id)
    assert row.last_seen_at == first_seen  # a request a moment later writes nothing

    # Used again after the touch interval: last seen and the idle deadline move on,
    # and a shortened lifetime setting reaches the running session.
    earlier = dt.datetime.now(dt.UTC) - TOUCH_EVERY - dt.timedelta(seconds=5)
    await db.execute(
        update(LoginSession).where(LoginSession.id == row.id).values(last_seen_at=earlier)
    )
    await set_setting(db, "session_idle_hours", 2, None)
    await set_setting(db, "session_lifetime_days", 1, None)
    await db.commit()
    assert await logged_in(client)
    [row] = await rows(db, member.id)
    now = dt.datetime.now(dt.UTC)
    assert row.last_seen_at > earlier + dt.timedelta(seconds=4)
    assert row.idle_expires_at - now <= dt.timedelta(hours=2)
    assert row.expires_at - row.created_at == dt.timedelta(days=1)


async def test_the_settings_page_offers_both_limits(client, db):
    root = await make_member(db, is_superuser=True, is_staff=True)
    await db.commit()
    await login(client, root.email)
    page = (await client.get("/admin/settings")).text
    assert 'name="session_idle_hours"' in page and 'name="session_lifetime_days"' in page


async def test_logging_in_again_ends_the_browsers_earlier_session(app, client, db):
    member = await make_member(db)
    await db.commit()
    await login(client, member.email)
    earlier = client.cookies[COOKIE_NAME]
    await login(client, member.email)
    first, second = await rows(db, member.id)
    assert first.end_reason == "replaced" and second.ended_at is None
    async with browser(app) as other:
        other.cookies.set(COOKIE_NAME, earlier)
        assert not await logged_in(other)


async def test_the_nightly_job_forgets_sessions_ended_long_ago(db):
    from server.auth.sessions import purge_old_sessions

    member = await make_member(db)
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=120)
    for ended in (long_ago, None):
        db.add(
            LoginSession(
                member_id=member.id,
                token_hash=f"{ended}".ljust(64, "x")[:64],
                created_at=long_ago,
                last_seen_at=long_ago,
                idle_expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1),
                expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(days=1),
                ended_at=ended,
            )
        )
    await db.commit()
    assert await purge_old_sessions(db, dt.date.today()) == "1 old login sessions forgotten"
    await db.commit()
    [kept] = await rows(db, member.id)
    assert kept.ended_at is None


async def test_losing_the_right_to_log_in_ends_the_sessions_for_good(app, client, db):
    """A minor whose parent link ends, or an adult whose corrected birth year makes them a
    minor without a parent, cannot log in: their sessions end, and a later parent link
    does not bring a copied cookie back to life."""
    minor_year = dt.date.today().year - 12
    officer = await make_staff(db, ["manage_members"], is_superuser=True)
    parent = await make_member(db)
    other_parent = await make_member(db, email="other.parent@example.org")
    kid = await make_member(db, birth_year=minor_year, parent_id=parent.id)
    adult = await make_member(db)
    await db.commit()
    async with browser(app) as kid_browser, browser(app) as adult_browser:
        await login(kid_browser, kid.email)
        await login(adult_browser, adult.email)
        assert await logged_in(kid_browser) and await logged_in(adult_browser)
        await login(client, officer.email)
        deactivated = await post_form(
            client,
            f"/members/{parent.id}/deactivate",
            {"version": parent.version, "reason": "left"},
            form_page=f"/members/{parent.id}/status",
        )
        assert deactivated.status_code == 303
        [row] = await rows(db, kid.id)
        assert row.end_reason == "parent_link_ended"
        await db.refresh(kid)
        await db.commit()
        linked = await post_form(
            client,
            f"/members/{kid.id}/link-parent",
            {"version": kid.version, "parent_email": other_parent.email},
            form_page=f"/members/{kid.id}/status",
        )
        assert linked.status_code == 303
        await db.refresh(kid)
        assert kid.parent_id == other_parent.id and kid.status == "minor_parent_verified"
        await db.commit()
        assert not await logged_in(kid_browser)

        await db.refresh(adult)
        data = {
            "version": str(adult.version),
            "sca_name": adult.sca_name,
            "first_name": adult.first_name,
            "last_name": adult.last_name,
            "email": adult.email,
            "birth_month": "1",
            "birth_year": str(minor_year),
        }
        await db.commit()
        edited = await post_form(
            client, f"/members/{adult.id}/edit", data, form_page=f"/members/{adult.id}/edit"
        )
        assert edited.status_code == 303
        [row] = await rows(db, adult.id)
        assert row.end_reason == "may_not_log_in"
        assert not await logged_in(adult_browser)


@pytest.mark.parametrize(
    "header",
    [
        'theme="dark mode"; {session}; lang=en',  # among a browser's other cookies
        "{session}; {session}x",  # the last one counts, as the browser sent it: tampered
        'a=b; =broken; "; {session}',  # junk before it
        "tessera_session=; {session}x",
    ],
)
async def test_the_session_cookie_is_read_from_any_cookie_header(app, client, db, header):
    member = await make_member(db)
    await db.commit()
    await login(client, member.email)
    session = f"{COOKIE_NAME}={client.cookies[COOKIE_NAME]}"
    sent = header.format(session=session)
    async with browser(app) as other:
        response = await other.get("/me", headers={"Cookie": sent})
    tampered = sent.endswith("x")
    assert response.status_code == (303 if tampered else 200), sent
