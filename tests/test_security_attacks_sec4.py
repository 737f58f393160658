"""Another attacker's review of issue 12 (sec4), replayed as attacks.

Each test follows an attacker's steps against the app and asserts that the attack no
longer works; each one succeeded before its fix. The roles are the demo's
(``tests/role_fixtures.py``).
"""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import select

from server.auth import login as login_module
from server.authcards.routes import BATCH_LIMIT
from server.groups.models import GroupMembership
from server.members.models import Member
from tests.factories import PASSWORD, clients_from, csrf_from, guess_at_once, login, make_member
from tests.reload import reload
from tests.role_fixtures import Offices


def _error(response) -> str:
    """The login page's error message."""
    return response.text.split('role="alert"', 1)[1].split("</p>", 1)[0]


@pytest.fixture
def checked(monkeypatch) -> list[str]:
    """The passwords the login really checked against an account's hash (the hashing
    spent on unknown addresses and refused attempts is left out)."""
    seen: list[str] = []
    real = login_module.verify_password_off_loop

    async def spy(password_hash: str | None, password: str) -> bool:
        if password_hash is not None:
            seen.append(password)
        return await real(password_hash, password)

    monkeypatch.setattr(login_module, "verify_password_off_loop", spy)
    return seen


# Guessing passwords past the lock -----------------------------------------------


async def test_a_burst_of_parallel_guesses_checks_only_five_passwords(app, db, checked):
    """Twenty guesses fired at one account at the same moment from twenty addresses:
    each was checked against the password before any was counted, so a burst tried as
    many passwords as it held (a right one among them logged in). Now each is counted
    before it is checked, and only the first five are checked at all."""
    member = await make_member(db, email="burst@example.org")
    await db.commit()
    guessers = clients_from(app, "198.51.100.", 20)
    answers = await guess_at_once(guessers, member.email)
    for c in guessers:
        await c.aclose()
    assert {r.status_code for r in answers} == {400}
    assert len({_error(r) for r in answers}) == 1  # the checked and the unchecked alike
    assert len(checked) == 5
    await reload(db, member)
    assert member.failed_login_attempts == 20 and member.locked_until is not None


async def test_the_lock_does_not_tell_a_guesser_which_password_was_right(client, db, checked):
    """Five wrong guesses lock the account; the guesser goes on guessing. A right password
    used to answer "Too many failed attempts" and a wrong one "do not match": the lock
    marked the right password, and the guesser waited the lock out and logged in."""
    member = await make_member(db, email="victim@example.org")
    await db.commit()
    for n in range(5):
        assert (await login(client, member.email, f"guess {n}")).status_code == 400
    wrong = await login(client, member.email, "guess 6")
    right = await login(client, member.email, PASSWORD)
    unknown = await login(client, "nobody@example.org", PASSWORD)
    assert wrong.status_code == right.status_code == unknown.status_code == 400
    assert _error(wrong) == _error(right) == _error(unknown)
    assert "do not match" in _error(right) and "locked" in _error(right)
    assert checked == [f"guess {n}" for n in range(5)]  # nothing checked while locked
    await reload(db, member)
    assert member.failed_login_attempts == 7


async def test_the_owner_logs_in_once_the_lock_runs_out(client, db):
    member = await make_member(db, email="owner@example.org")
    await db.commit()
    for n in range(5):
        await login(client, member.email, f"guess {n}")
    await reload(db, member)
    member.locked_until = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    await db.commit()
    assert (await login(client, member.email)).status_code == 303
    await reload(db, member)
    assert member.failed_login_attempts == 0 and member.locked_until is None


async def test_a_right_fifth_attempt_logs_in_and_clears_the_count(client, db):
    """The fifth attempt locks the account before its password is checked; when it was
    the right one the lock is undone."""
    member = await make_member(db, email="fifth@example.org")
    await db.commit()
    for n in range(4):
        await login(client, member.email, f"typo {n}")
    assert (await login(client, member.email)).status_code == 303
    await reload(db, member)
    assert member.failed_login_attempts == 0 and member.locked_until is None


async def test_profile_password_guesses_past_the_lock_are_not_checked(client, db, checked):
    """A stolen session guessing the current password on /me: past the fifth, the
    right one is refused like the wrong ones, unchecked."""
    member = await make_member(db)
    await db.commit()
    await login(client, member.email)
    checked.clear()
    answers = []
    for current in ["guess 1", "guess 2", "guess 3", "guess 4", "guess 5", PASSWORD]:
        token = await csrf_from(client, "/me")
        answers.append(
            await client.post(
                "/me/password",
                data={
                    "csrf_token": token,
                    "current_password": current,
                    "password": "new password!!",
                    "password_again": "new password!!",
                },
            )
        )
    assert [r.status_code for r in answers] == [400] * 6
    assert "Too many failed attempts" in answers[-1].text
    assert PASSWORD not in checked


async def test_a_burst_from_the_owners_own_browser_checks_only_five(client, db, checked):
    """Someone at the owner's browser (a shared computer, the device cookie still there)
    fires twenty guesses at once: that browser gets past the account's lock, and its own
    five-failure limit counted failures once they had failed — all twenty were checked."""
    member = await make_member(db, email="shared@example.org")
    await db.commit()
    assert (await login(client, member.email)).status_code == 303
    token = await csrf_from(client, "/me")
    await client.post("/logout", data={"csrf_token": token})
    tokens = [await csrf_from(client, "/login") for _ in range(20)]
    checked.clear()
    answers = await asyncio.gather(
        *(
            client.post(
                "/login", data={"email": member.email, "password": f"guess {n}", "csrf_token": t}
            )
            for n, t in enumerate(tokens)
        )
    )
    assert {r.status_code for r in answers} == {400}
    # The browser's own five, and at most the account's five that strangers get (the
    # two interleave in a burst; one after another, the browser's five fill both).
    assert len(checked) <= 10


async def test_a_burst_from_one_address_is_held_to_the_address_limit(app, db):
    """Forty logins fired at the same moment from one address (one password sprayed over
    forty accounts): the address limit (30 failures in 5 minutes) counted failures once
    they had failed, so every attempt of the burst had been let in by then."""
    for n in range(40):
        await make_member(db, email=f"spray{n}@example.org")
    await db.commit()
    [sprayer] = clients_from(app, "203.0.113.", 1)
    tokens = [await csrf_from(sprayer, "/login") for _ in range(40)]
    answers = await asyncio.gather(
        *(
            sprayer.post(
                "/login",
                data={"email": f"spray{n}@example.org", "password": "Summer2026!", "csrf_token": t},
            )
            for n, t in enumerate(tokens)
        )
    )
    assert sorted(r.status_code for r in answers) == [400] * 30 + [429] * 10
    await sprayer.aclose()


async def test_a_right_password_does_not_use_up_the_address_limit(client, db):
    member = await make_member(db, email="often@example.org")
    await db.commit()
    for _ in range(35):
        assert (await login(client, member.email)).status_code == 303
        client.cookies.clear()


# Officers reaching above their station --------------------------------------------


async def test_a_chair_cannot_put_a_member_above_them_in_a_group(client, db):
    """The Membership Office's chair added the Earl Marshal (and the superuser) to
    groups: acting on the accounts of members above them, whose memberships they may
    not edit or end."""
    offices = await Offices.make(db)
    chair = await offices.person(db, "chair")
    marshal = await offices.person(db, "marshal")
    root = await offices.person(db, "superuser")
    member = await offices.person(db, "member")
    await db.commit()
    await login(client, chair.email)
    path = f"/groups/{offices.office.id}"
    for target in (marshal, root):
        token = await csrf_from(client, path)
        refused = await client.post(
            f"{path}/memberships",
            data={"csrf_token": token, "member": target.email, "role": "Deputy"},
        )
        assert refused.status_code == 403
        assert "Not added" in refused.text
    token = await csrf_from(client, path)
    added = await client.post(
        f"{path}/memberships", data={"csrf_token": token, "member": member.email, "role": "Deputy"}
    )
    assert added.status_code == 303
    rows = (
        (
            await db.execute(
                select(GroupMembership.member_id).where(
                    GroupMembership.group_id == offices.office.id
                )
            )
        )
        .scalars()
        .all()
    )
    assert marshal.id not in rows and root.id not in rows and member.id in rows


async def test_a_chair_cannot_grant_a_group_above_their_own_permissions(client, db):
    offices = await Offices.make(db)
    chair = await offices.person(db, "chair")
    member = await offices.person(db, "member")
    await db.commit()
    await login(client, chair.email)
    path = f"/groups/{offices.marshallate.id}"
    token = await csrf_from(client, path)
    refused = await client.post(
        f"{path}/memberships", data={"csrf_token": token, "member": member.email}
    )
    assert refused.status_code == 400 and "you do not hold" in refused.text
    token = await csrf_from(client, path)
    own = await client.post(
        f"{path}/memberships", data={"csrf_token": token, "member": chair.email}
    )
    assert own.status_code == 400 and "you do not hold" in own.text
    anyone = await db.scalar(
        select(GroupMembership.id).where(GroupMembership.group_id == offices.marshallate.id)
    )
    assert anyone is None


# Printed auth cards ------------------------------------------------------------------


async def test_printing_auth_cards_for_an_endless_list_of_ids_is_refused(client, db):
    """An officer (or a forged link) asked for any number of member ids, each one a query
    parameter (tens of thousands: past what the database takes, a 500). The list is
    bounded, with a message."""
    officer = await make_member(db, email="officer@example.org", is_superuser=True)
    await db.commit()
    await login(client, officer.email)
    too_many = range(1, BATCH_LIMIT + 2)
    for ids in (",".join(str(n) for n in too_many), ",".join("1" for _ in too_many)):
        response = await client.get("/auth-cards", params={"ids": ids})
        assert response.status_code == 400
        assert f"At most {BATCH_LIMIT} member ids" in response.text
    single = await client.get("/auth-cards", params={"ids": f"{officer.id},{officer.id}"})
    assert single.status_code == 200
    assert await db.scalar(select(Member.id).where(Member.id == officer.id)) == officer.id


async def test_a_refused_group_change_answers_with_the_reason_not_a_500(client, db):
    """The chair tried to add a member to the Marshallate (a permission the chair lacks),
    or to end an ended membership later than it ends: the refusal rolled back, the page
    then read the viewer's expired record — a 500 instead of the reason."""
    offices = await Offices.make(db)
    chair = await offices.person(db, "chair")
    member = await offices.person(db, "member")
    ended = GroupMembership(
        group_id=offices.office.id,
        member_id=member.id,
        since=dt.date(2001, 1, 1),
        until=dt.date(2002, 1, 1),
        role="former deputy",
    )
    db.add(ended)
    await db.commit()
    await login(client, chair.email)
    path = f"/groups/{offices.marshallate.id}"
    token = await csrf_from(client, path)
    added = await client.post(f"{path}/memberships", data={"csrf_token": token, "member": "#1"})
    assert added.status_code == 400 and "you do not hold" in added.text
    path = f"/groups/{offices.office.id}"
    token = await csrf_from(client, path)
    later = await client.post(
        f"{path}/memberships/{ended.id}/end", data={"csrf_token": token, "until": "2003-01-01"}
    )
    assert later.status_code == 400 and "use Edit to extend it" in later.text
    await reload(db, ended)
    assert ended.until == dt.date(2002, 1, 1)
