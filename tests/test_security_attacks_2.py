"""The second attacker's review of issue 12, replayed as attacks.

Each test follows an attacker's steps against the app and asserts that the attack no
longer works; each one succeeded before its fix. The roles are the demo's
(``tests/role_fixtures.py``).
"""

from __future__ import annotations

import datetime as dt
import re

import httpx
import pytest
from sqlalchemy import select

from server.groups.models import GroupMembership
from server.mail.models import OutboxMessage
from server.mail.sealed import unseal
from server.members.models import Member
from server.web.ratelimit import RateLimiter
from tests.factories import PASSWORD, csrf_from, login, make_member
from tests.reload import reload
from tests.role_fixtures import Offices

SECRET = "test-secret-key-" + "x" * 32
LONG_AGO = dt.date(2019, 1, 1)
ENDED = dt.date(2020, 1, 1)


@pytest.fixture(autouse=True)
def _fresh_limits():
    RateLimiter.reset_all()
    yield
    RateLimiter.reset_all()


async def _ended_membership(db, group_id: int, member_id: int) -> GroupMembership:
    membership = GroupMembership(
        group_id=group_id, member_id=member_id, since=LONG_AGO, until=ENDED, role="former"
    )
    db.add(membership)
    await db.flush()
    return membership


async def _edit_membership(client, membership: GroupMembership, **values: str):
    path = f"/groups/{membership.group_id}/memberships/{membership.id}/edit"
    token = await csrf_from(client, path)
    data = {"since": str(membership.since), "until": "", "role": membership.role, **values}
    return await client.post(path, data={**data, "csrf_token": token})


async def test_a_chair_cannot_reopen_an_ended_membership_to_grant_what_they_lack(client, db):
    """The office's chair (``manage_groups``, no ``check_cards``) once served in the
    Marshallate, as did a plain member. The ended memberships hold no standing, so the
    chair may open them — and, by clearing the end date, reopened them: the chair and
    their accomplice became marshals, a permission the chair could never grant."""
    offices = await Offices.make(db)
    chair = await offices.person(db, "chair")
    accomplice = await offices.person(db, "member")
    own = await _ended_membership(db, offices.marshallate.id, chair.id)
    theirs = await _ended_membership(db, offices.marshallate.id, accomplice.id)
    await db.commit()
    await login(client, chair.email)
    for membership in (own, theirs):
        response = await _edit_membership(client, membership)
        assert response.status_code == 400
        assert "you do not hold: “Check member cards as a marshal”" in response.text
        later = await _edit_membership(client, membership, until="2099-12-31")
        assert later.status_code == 400
        earlier = await _edit_membership(client, membership, since="2018-01-01", until="2020-01-01")
        assert earlier.status_code == 400
        await reload(db, membership)
        assert (membership.since, membership.until) == (LONG_AGO, ENDED)
    assert (await client.get("/check/scan/")).status_code == 403
    # Shortening or renaming hands nothing out: still allowed.
    renamed = await _edit_membership(client, theirs, until=str(ENDED), role="Former marshal")
    assert renamed.status_code == 303
    await reload(db, theirs)
    assert theirs.role == "Former marshal"


async def test_a_chair_reopens_memberships_in_a_group_whose_permissions_they_hold(client, db):
    offices = await Offices.make(db)
    chair = await offices.person(db, "chair")
    deputy = await make_member(db, is_staff=True)
    ended = await _ended_membership(db, offices.office.id, deputy.id)
    await db.commit()
    await login(client, chair.email)
    response = await _edit_membership(client, ended)
    assert response.status_code == 303
    await reload(db, ended)
    assert ended.until is None


async def test_a_superuser_reopens_any_membership(client, db):
    offices = await Offices.make(db)
    root = await offices.person(db, "superuser")
    former = await make_member(db)
    ended = await _ended_membership(db, offices.marshallate.id, former.id)
    await db.commit()
    await login(client, root.email)
    assert (await _edit_membership(client, ended)).status_code == 303
    await reload(db, ended)
    assert ended.until is None


# Reset links outliving the password or the address they were mailed to ---------------


async def _reset_link(client: httpx.AsyncClient, db, email: str) -> str:
    """Ask for a reset of ``email`` and read the link from the mail it queued."""
    token = await csrf_from(client, "/password-reset")
    await client.post("/password-reset", data={"csrf_token": token, "email": email})
    bodies = (
        await db.execute(select(OutboxMessage.body_text).where(OutboxMessage.to_addr == email))
    ).scalars()
    links = [
        found.group(1)
        for body in bodies
        if (found := re.search(r"http://testserver(/password-reset/\S+)", unseal(body, SECRET)))
    ]
    await db.commit()
    return links[-1]


async def _use_link(client: httpx.AsyncClient, path: str, password: str) -> httpx.Response:
    form = await client.get(path)
    if form.status_code != 200:
        return form
    token = await csrf_from(client, path)
    data = {"csrf_token": token, "password": password, "password_again": password}
    return await client.post(path, data=data)


async def test_a_reset_link_taken_before_a_password_change_opens_nothing_after_it(app, client, db):
    """Someone who once read the member's mailbox asked for a reset link and kept it. The
    member notices and changes their password on /me (which ends every other session) —
    and the kept link still set a password of the intruder's choosing for a day."""
    victim = await make_member(db, email="victim@example.org")
    await db.commit()
    kept = await _reset_link(client, db, victim.email)
    await login(client, victim.email)
    token = await csrf_from(client, "/me")
    changed = await client.post(
        "/me/password",
        data={
            "csrf_token": token,
            "current_password": PASSWORD,
            "password": "the member's new secret",
            "password_again": "the member's new secret",
        },
    )
    assert changed.status_code == 303
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50103))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as intruder:
        used = await _use_link(intruder, kept, "the intruder's secret")
        assert used.status_code == 400 and "no longer works" in used.text
        refused = await login(intruder, victim.email, "the intruder's secret")
        assert refused.status_code == 400
        assert (await login(intruder, victim.email, "the member's new secret")).status_code == 303


async def test_a_reset_link_mailed_to_the_old_address_dies_with_the_email_change(app, client, db):
    """The office moves a member off a mailbox that is no longer theirs; a reset link
    already mailed there still took the account."""
    offices = await Offices.make(db)
    officer = await offices.person(db, "officer")
    member = await make_member(db, email="lost.mailbox@example.org")
    await db.commit()
    kept = await _reset_link(client, db, member.email)
    await login(client, officer.email)
    path = f"/members/{member.id}/edit"
    token = await csrf_from(client, path)
    data = {
        "csrf_token": token,
        "version": str(member.version),
        "sca_name": member.sca_name,
        "first_name": member.first_name,
        "last_name": member.last_name,
        "email": "new.mailbox@example.org",
        "birth_month": str(member.birth_month or ""),
        "birth_year": str(member.birth_year or ""),
    }
    assert (await client.post(path, data=data)).status_code == 303
    await reload(db, member)
    assert member.email == "new.mailbox@example.org"
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50104))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as holder:
        used = await _use_link(holder, kept, "taken over at last")
        assert used.status_code == 400 and "no longer works" in used.text
        password_hash = (
            await db.execute(select(Member.password_hash).where(Member.id == member.id))
        ).scalar_one()
        await db.commit()
        assert password_hash == member.password_hash
        # A link asked for after the change, to the new address, works.
        fresh = await _reset_link(holder, db, "new.mailbox@example.org")
        assert (await _use_link(holder, fresh, "the member's own secret")).status_code == 303


# Officers recording their own membership -------------------------------------------


def _own_edit(member: Member, **changes: str) -> dict[str, str]:
    return {
        "version": str(member.version),
        "sca_name": member.sca_name,
        "first_name": member.first_name,
        "last_name": member.last_name,
        "email": member.email,
        "membership_number": member.membership_number or "",
        "membership_expires_on": str(member.membership_expires_on or ""),
        **changes,
    }


async def test_an_officer_cannot_extend_their_own_lapsed_membership(client, db):
    """The deputy's membership lapsed, and with it ``verify_members`` (a permission that
    needs a current membership). She still holds ``manage_members``, opened her own edit
    page, moved her expiry date a year on — and verified members again."""
    offices = await Offices.make(db)
    lapsed_on = dt.date.today() - dt.timedelta(days=1)
    deputy = await offices.person(db, "officer", membership_expires_on=lapsed_on)
    await db.commit()
    await login(client, deputy.email)
    assert (await client.get("/membership-proofs")).status_code == 403
    path = f"/members/{deputy.id}/edit"
    next_year = str(dt.date.today() + dt.timedelta(days=365))
    for changes in (
        {"membership_expires_on": next_year},
        {"membership_number": "M-FORGED"},
        {"background_check_expires_on": next_year},
    ):
        token = await csrf_from(client, path)
        edit = await client.post(path, data={**_own_edit(deputy, **changes), "csrf_token": token})
        assert edit.status_code == 400 and "Nobody verifies or extends their own" in edit.text
        await reload(db, deputy)
        assert deputy.membership_expires_on == lapsed_on
        assert deputy.background_check_expires_on is None
    assert (await client.get("/membership-proofs")).status_code == 403
    # Her other details are hers to keep up to date.
    token = await csrf_from(client, path)
    fixed = await client.post(
        path, data={**_own_edit(deputy, phone="555 0100"), "csrf_token": token}
    )
    assert fixed.status_code == 303
    await reload(db, deputy)
    assert deputy.phone == "555 0100"


async def test_an_officer_cannot_verify_their_own_membership(client, db):
    offices = await Offices.make(db)
    deputy = await offices.person(db, "officer")
    colleague = await offices.person(db, "officer")
    await db.commit()
    expires = deputy.membership_expires_on
    far = str(dt.date.today() + dt.timedelta(days=3650))
    await login(client, deputy.email)
    path = f"/members/{deputy.id}/verify-membership"
    token = await csrf_from(client, f"/members/{deputy.id}/status")
    data = {
        "version": str(deputy.version),
        "membership_number": "M-1",
        "membership_expires_on": far,
    }
    response = await client.post(path, data={**data, "csrf_token": token})
    assert response.status_code == 400
    assert "Nobody verifies or extends their own membership" in response.text
    await reload(db, deputy)
    assert deputy.membership_expires_on == expires
    # A colleague records it.
    await login(client, colleague.email)
    token = await csrf_from(client, f"/members/{deputy.id}/status")
    done = await client.post(path, data={**data, "csrf_token": token})
    assert done.status_code == 303
    await reload(db, deputy)
    assert str(deputy.membership_expires_on) == far


# One client's failures locking others out of their accounts ------------------------


def _other_client(app, port: int) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=("198.51.100.7", port))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def test_a_stranger_cannot_keep_the_admin_locked_out(app, client, db):
    """Anyone who knows the admin's address sends five wrong passwords, and again each
    time the lock runs out: the admin, at their own browser, never got in."""
    offices = await Offices.make(db)
    root = await offices.person(db, "superuser", email="root@example.org")
    await db.commit()
    assert (await login(client, root.email)).status_code == 303  # their usual browser
    token = await csrf_from(client, "/me")
    await client.post("/logout", data={"csrf_token": token})
    async with _other_client(app, 50201) as stranger:
        for _ in range(6):
            wrong = await login(stranger, root.email, "guess")
            assert "do not match" in wrong.text
        locked = await login(stranger, root.email)  # even the right password, elsewhere
        assert locked.status_code == 400 and "do not match" in locked.text
    assert (await login(client, root.email)).status_code == 303
    await reload(db, root)
    assert root.locked_until is None and root.failed_login_attempts == 0


async def test_a_known_browser_still_counts_its_own_wrong_passwords(app, client, db):
    member = await make_member(db)
    await db.commit()
    await login(client, member.email)
    token = await csrf_from(client, "/me")
    await client.post("/logout", data={"csrf_token": token})
    for _ in range(5):
        assert "do not match" in (await login(client, member.email, "guess")).text
    await reload(db, member)
    assert member.locked_until is not None
    # The device tripped the lock itself: it holds the device as it holds strangers.
    assert (await login(client, member.email)).status_code == 400
    async with _other_client(app, 50202) as stranger:
        assert (await login(stranger, member.email)).status_code == 400


async def test_a_guesser_behind_the_event_wifi_does_not_keep_marshals_out(app, db):
    """Thirty failed logins from the event's one address held back every login from it
    for five minutes, the marshals' own included."""
    marshal = await make_member(db, email="marshal@example.org")
    await db.commit()
    async with _other_client(app, 50203) as phone, _other_client(app, 50204) as guesser:
        assert (await login(phone, marshal.email)).status_code == 303  # earlier that day
        token = await csrf_from(phone, "/me")
        await phone.post("/logout", data={"csrf_token": token})
        for n in range(30):
            await login(guesser, f"someone{n}@example.org", "guess")
        assert (await login(guesser, "someone@example.org", "guess")).status_code == 429
        assert (await login(phone, marshal.email)).status_code == 303
        # A device's own failures are held back like an address's.
        for _ in range(30):
            await login(phone, marshal.email, "typo")
        assert (await login(phone, marshal.email, "typo")).status_code == 429
