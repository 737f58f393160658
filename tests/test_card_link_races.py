"""Two card-link actions on one member at once: one happens, the other is told why.

A live link is replaced only from the confirmation page (with a reason): a second
officer's "Issue" arriving while the first one's link is being issued must not silently
replace it (SQLite: a second email and a dead first link) nor end in an error page
(PostgreSQL: the one-live-link unique index).
"""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest
from sqlalchemy import func, select

from server.cards import bulk
from server.cards.issuing import MailContext
from server.cards.models import CardLink
from server.cards.service import issue_link
from server.mail.models import OutboxMessage
from server.members.locks import lock_members
from server.members.models import Member
from tests.applicant_fixtures import TODAY
from tests.db_fixtures import until_someone_waits_for_a_lock
from tests.factories import csrf_from, login, make_branch, make_member, make_staff

MAIL = MailContext("http://testserver", "test-secret-key-" + "x" * 32)


def _officer_client(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=("127.0.0.1", 50001)),
        base_url="http://testserver",
    )


async def _count(db, model, *where) -> int:
    await db.commit()  # a fresh transaction sees the app's writes
    value = await db.scalar(select(func.count()).select_from(model).where(*where))
    await db.commit()
    return int(value or 0)


async def test_two_officers_issue_the_same_members_link_at_once(app, db):
    first = await make_staff(db, ["issue_card_links"])
    second = await make_staff(db, ["issue_card_links"])
    member = await make_member(db, sca_name="Card Holder")
    await db.commit()
    async with _officer_client(app) as a, _officer_client(app) as b:
        await login(a, first.email)
        await login(b, second.email)
        page = f"/members/{member.id}/card-links"
        token_a, token_b = await csrf_from(a, page), await csrf_from(b, page)
        answers = await asyncio.gather(
            a.post(page + "/issue", data={"csrf_token": token_a}),
            b.post(page + "/issue", data={"csrf_token": token_b}),
        )
        assert sorted(r.status_code for r in answers) == [303, 409], [
            r.status_code for r in answers
        ]
        winner = next(r for r in answers if r.status_code == 303)
        loser = next(r for r in answers if r.status_code == 409)
        client = a if winner is answers[0] else b
        assert "on its way to" in (await client.get(winner.headers["location"])).text
        # The later click lands on the replace page: the link is live, a reason is asked.
        assert (
            "Replace the card link" in loser.text and "Why is the card link replaced" in loser.text
        )
    assert await _count(db, CardLink) == 1
    assert await _count(db, OutboxMessage, OutboxMessage.kind == "card_link") == 1


@pytest.mark.postgres_only
async def test_bulk_run_leaves_alone_a_link_issued_from_the_member_page_meanwhile(app, db):
    officer = await make_staff(db, ["issue_card_links"])
    branch = await make_branch(db, "Shire of Bulk")
    member = await make_member(db, branch_id=branch.id)
    await db.commit()
    sm = app.state.sessionmaker
    async with sm() as single:
        await lock_members(single, [member.id])
        target = await single.get(Member, member.id)
        actor = await single.get(Member, officer.id)
        assert target is not None and actor is not None
        await issue_link(single, target, actor, MAIL, TODAY)  # not committed yet
        run = asyncio.create_task(
            bulk.issue_selection(sm, bulk.Selection(branch.id), actor_id=officer.id, mail=MAIL)
        )
        await until_someone_waits_for_a_lock(db, unless=run)
        await single.commit()
    issued, _ = await run  # no unique-index error: the member already had a link
    assert issued == 0
    assert await _count(db, CardLink) == 1
    assert await _count(db, OutboxMessage, OutboxMessage.kind == "card_link") == 1


async def test_replace_confirmed_twice_replaces_once(app, db):
    """A double click on "Replace the card link" (or two officers on the same page):
    the second post is about a link that is no longer live and does nothing."""
    officer = await make_staff(db, ["issue_card_links"])
    member = await make_member(db, sca_name="Card Holder")
    await db.commit()
    async with _officer_client(app) as a:
        await login(a, officer.email)
        base = f"/members/{member.id}/card-links"
        token = await csrf_from(a, base)
        await a.post(base + "/issue", data={"csrf_token": token})
        page = (await a.get(base + "/replace")).text
        subject = re.search(r'name="subject" value="([^"]+)"', page)
        assert subject, "the replace page names the link it replaces"
        form = {"csrf_token": token, "reason": "new phone", "subject": subject.group(1)}
        answers = await asyncio.gather(
            a.post(base + "/replace", data=form), a.post(base + "/replace", data=form)
        )
        assert [r.status_code for r in answers] == [303, 303]
        # The same stale form once more: the officer is told, nothing is done.
        again = await a.post(base + "/replace", data=form)
        assert "already replaced or revoked" in (await a.get(again.headers["location"])).text
    assert await _count(db, CardLink) == 2  # the first link and one replacement
    assert await _count(db, OutboxMessage, OutboxMessage.kind == "card_link") == 2
