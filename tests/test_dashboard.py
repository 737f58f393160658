"""The dashboard shows the work waiting, with counts and links, each only to those who may
act on it (issue 15, item 1)."""

from __future__ import annotations

import datetime as dt
import re

from server.cards.models import CardLink
from server.database import utcnow
from server.mail.models import OutboxMessage
from server.plugins.activities.models import PENDING
from tests.activities_fixtures import make_activity, make_authorization
from tests.applicant_fixtures import make_applicant
from tests.factories import login, make_member, make_staff

TODAY = dt.date.today()
DAY = dt.timedelta(days=1)


def _work(page: str) -> dict[str, tuple[int, str]]:
    """label -> (count, link) of every item under "Waiting for you"."""
    items = re.findall(
        r'<a href="([^"]+)"><span class="work-count">(\d+)</span> '
        r'<span class="work-label">([^<]+)</span>',
        page,
    )
    return {label: (int(count), href.replace("&amp;", "&")) for href, count, label in items}


async def _register(db):
    """Two applicants to review, one expiring membership (and some that do not count)."""
    await make_applicant(db, email="a1@example.org")
    await make_applicant(db, email="a2@example.org")
    await make_applicant(db, email="a3@example.org", declined_at=utcnow())
    created = await make_member(db)
    await make_applicant(db, email="a4@example.org", member_id=created.id)
    soon = await make_member(db, membership_expires_on=TODAY + 10 * DAY)
    await make_member(db, membership_expires_on=TODAY + 40 * DAY)
    await make_member(db, membership_expires_on=TODAY - DAY)
    await make_member(
        db, membership_expires_on=TODAY + 5 * DAY, deactivated_at=dt.datetime.now(dt.UTC)
    )
    db.add(CardLink(member_id=soon.id, token_hash="a" * 64, live_member_id=soon.id))
    db.add(OutboxMessage(kind="x", to_addr="q@example.org", subject="s", body_text="b"))
    db.add(
        OutboxMessage(
            kind="x", to_addr="f@example.org", subject="s", body_text="b", status="failed"
        )
    )


async def test_each_count_with_its_link_for_an_officer_who_may_act_on_all(client, db):
    await _register(db)
    root = await make_staff(db, [], is_superuser=True, sca_name="Root")
    await db.commit()
    await login(client, root.email)
    page = await client.get("/")
    work = _work(page.text)
    assert work["applicants to review"] == (2, "/applicants")
    # A count of one is said in the singular ("1 membership expiring", not "1 memberships").
    assert work["membership expiring within 30 days"] == (
        1,
        "/members?membership=expiring&sort=expiry",
    )
    assert work["email queued"] == (1, "/admin/outbox?status=queued")
    assert work["email failed"] == (1, "/admin/outbox?status=failed")
    assert work["membership proofs to verify"] == (0, "/membership-proofs")
    without, href = work["members without a live card link"]
    # The lists behind the links count the same members.
    listed = await client.get(href)
    assert f"{without} members found" in listed.text
    listed = await client.get(work["membership expiring within 30 days"][1])
    assert "1 member found" in listed.text
    # The dashboard no longer repeats the menu.
    assert "Where to?" not in page.text


async def test_counts_follow_the_viewers_permissions(client, db):
    await _register(db)
    issuer = await make_staff(db, ["issue_card_links"])
    reporter = await make_staff(db, ["view_reports"])
    await db.commit()
    await login(client, issuer.email)
    work = _work((await client.get("/")).text)
    assert list(work) == ["members without a live card link"]
    await login(client, reporter.email)
    page = (await client.get("/")).text
    assert _work(page) == {}
    assert "Nothing here is yours to act on" in page


async def test_authorization_requests_waiting_for_this_authorizer(client, db):
    activity = await make_activity(db)
    fighter = await make_member(db)
    await make_authorization(db, fighter, activity, status=PENDING)
    authorizer = await make_staff(db, ["authorize_armored_combat"])
    own = await make_authorization(db, authorizer, activity, status=PENDING)
    other = await make_staff(db, ["manage_members"])
    await db.commit()
    assert own.member_id == authorizer.id  # their own request does not wait for them
    await login(client, authorizer.email)
    work = _work((await client.get("/")).text)
    assert work["authorization request waiting for you"] == (1, "/activities/queue")
    await login(client, other.email)
    work = _work((await client.get("/")).text)
    assert "authorization request waiting for you" not in work
    assert work["applicants to review"] == (0, "/applicants")
