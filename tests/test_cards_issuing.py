from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from sqlalchemy import func, select, update

from server.audit.models import AuditEntry
from server.cards import builder
from server.cards.bulk import Selection, issue_selection
from server.cards.invalidation import invalidate
from server.cards.models import CardEpoch, CardLink, CardPayload
from server.cards.service import CardRefused, issue_link, revoke_link
from server.mail.models import OutboxMessage
from server.mail.sealed import unseal
from server.members.models import Member
from server.settings.store import set_setting
from tests.card_fixtures import database_contains, mail_for
from tests.factories import login, make_branch, make_member, make_staff
from tests.smtp_fixtures import CARD_URL_RE


async def _outbox(db, member_id):
    return list(
        (
            await db.execute(
                select(OutboxMessage)
                .where(OutboxMessage.member_id == member_id)
                .order_by(OutboxMessage.id)
            )
        ).scalars()
    )


async def test_admin_issues_link_stored_only_as_hash_and_mailed_sealed(db, settings):
    admin = await make_staff(db, ["issue_card_links"])
    member = await make_member(db)
    issued = await issue_link(db, member, admin, mail_for(settings), dt.date.today())
    await db.commit()

    assert len(issued.token) == 22
    link = (await db.execute(select(CardLink).where(CardLink.member_id == member.id))).scalar_one()
    assert link.token_hash == hashlib.sha256(issued.token.encode()).hexdigest()
    assert link.issued_by_id == admin.id and link.live_member_id == member.id
    [message] = await _outbox(db, member.id)
    assert message.to_addr == member.email and message.status == "queued"
    opened = unseal(message.body_text, str(settings.secret_key))
    assert f"http://testserver/card/{issued.token}" in opened
    assert CARD_URL_RE.search(unseal(message.body_html, str(settings.secret_key)))
    assert "Add to Home Screen" in opened and "Android" in opened
    audit = (
        await db.execute(select(AuditEntry).where(AuditEntry.action == "card_link.issue"))
    ).scalar_one()
    assert audit.actor_id == admin.id and audit.member_id == member.id
    assert not await database_contains(db, settings, issued.token)


async def test_new_link_revokes_the_old_one(db, settings):
    admin = await make_staff(db, ["issue_card_links"])
    member = await make_member(db)
    first = await issue_link(db, member, admin, mail_for(settings), dt.date.today())
    second = await issue_link(db, member, admin, mail_for(settings), dt.date.today())
    await db.commit()
    links = list(
        (
            await db.execute(
                select(CardLink).where(CardLink.member_id == member.id).order_by(CardLink.id)
            )
        ).scalars()
    )
    assert [link.is_live for link in links] == [False, True]
    assert links[0].revoke_reason == "replaced" and links[0].revoked_by_id == admin.id
    assert first.token != second.token


async def test_deactivated_member_is_refused_with_the_reason(db, settings):
    admin = await make_staff(db, ["issue_card_links"])
    member = await make_member(
        db, deactivated_at=dt.datetime.now(dt.UTC), deactivation_reason="left the kingdom"
    )
    with pytest.raises(CardRefused, match="deactivated.*left the kingdom"):
        await issue_link(db, member, admin, mail_for(settings), dt.date.today())
    assert await db.scalar(select(func.count()).select_from(CardLink)) == 0
    assert await _outbox(db, member.id) == []


async def test_minor_link_is_also_mailed_to_the_parent(db, settings):
    parent = await make_member(db, email="parent@example.org")
    today = dt.date.today()
    child = await make_member(db, parent_id=parent.id, birth_year=today.year - 10)
    assert child.status == "minor_parent_verified"
    issued = await issue_link(db, child, parent, mail_for(settings), dt.date.today())
    await db.commit()
    messages = await _outbox(db, child.id)
    assert [m.to_addr for m in messages] == [child.email, "parent@example.org"]
    assert "under 18" in messages[1].body_text
    assert issued.recipients == [child.email, "parent@example.org"]


async def test_who_may_issue(db, settings):
    member = await make_member(db)
    other = await make_member(db)
    adult_child = await make_member(db, parent_id=member.id)
    # self: allowed
    await issue_link(db, member, member, mail_for(settings), dt.date.today())
    with pytest.raises(CardRefused, match="may not issue"):
        await issue_link(db, other, member, mail_for(settings), dt.date.today())
    with pytest.raises(CardRefused, match="may not issue"):
        await issue_link(db, adult_child, member, mail_for(settings), dt.date.today())


async def test_revoke_needs_the_permission_and_is_audited(db, settings):
    admin = await make_staff(db, ["issue_card_links"])
    member = await make_member(db)
    await issue_link(db, member, member, mail_for(settings), dt.date.today())
    with pytest.raises(CardRefused, match="permission"):
        await revoke_link(db, member, member, "lost phone", dt.date.today())
    await revoke_link(db, member, admin, "lost phone", dt.date.today())
    await db.commit()
    link = (await db.execute(select(CardLink))).scalar_one()
    assert link.revoked_at is not None and link.revoke_reason == "lost phone"
    assert link.live_member_id is None
    with pytest.raises(CardRefused, match="no live card link"):
        await revoke_link(db, member, admin, "again", dt.date.today())
    actions = (await db.execute(select(AuditEntry.action).order_by(AuditEntry.id))).scalars().all()
    assert actions[-1] == "card_link.revoke"


async def test_bulk_issue_by_branch_and_status(app, db, settings):
    kingdom = await make_branch(db, "Kingdom")
    barony = await make_branch(db, "Barony", parent_id=kingdom.id)
    elsewhere = await make_branch(db, "Elsewhere")
    inside = [await make_member(db, branch_id=barony.id) for _ in range(3)]
    verified = await make_member(
        db, branch_id=kingdom.id, verified_at=dt.datetime.now(dt.UTC), membership_number="1"
    )
    gone = await make_member(db, branch_id=barony.id, deactivated_at=dt.datetime.now(dt.UTC))
    outside = await make_member(db, branch_id=elsewhere.id)
    await db.commit()

    issued, skipped = await issue_selection(
        app.state.sessionmaker,
        Selection(kingdom.id, ("active",)),
        actor_id=None,
        mail=mail_for(settings),
    )
    assert (issued, skipped) == (3, 0)
    live = set(
        (
            await db.execute(select(CardLink.member_id).where(CardLink.revoked_at.is_(None)))
        ).scalars()
    )
    assert live == {m.id for m in inside}
    await db.commit()  # end the read snapshot (a SQLite transaction reads one snapshot)
    # Again for every status, without replacing: only the verified member is new, and
    # the deactivated one is counted as skipped.
    again, skipped = await issue_selection(
        app.state.sessionmaker, Selection(kingdom.id), actor_id=None, mail=mail_for(settings)
    )
    assert (again, skipped) == (1, 1)
    assert await db.scalar(select(func.count()).select_from(OutboxMessage)) == 4
    assert gone.id not in live and outside.id not in live and verified.id not in live


async def test_payload_is_invalidated_by_member_changes_and_settings(db, settings):
    member = await make_member(db, sca_name="Old Name")
    await issue_link(db, member, member, mail_for(settings), dt.date.today())
    await db.commit()
    member_id = member.id
    built = await builder.refresh(db, member_id, settings)
    assert '"sca_name":"Old Name"' in built.body

    async def stored() -> CardPayload:
        db.expire_all()
        return (
            await db.execute(select(CardPayload).where(CardPayload.member_id == member_id))
        ).scalar_one()

    member = await db.get(Member, member_id)
    member.sca_name = "New Name"
    await db.commit()
    row = await stored()
    assert row.body is None and row.generation == 1
    rebuilt = await builder.refresh(db, member_id, settings)
    assert '"sca_name":"New Name"' in rebuilt.body and rebuilt.etag != built.etag

    await db.execute(update(Member).where(Member.id == member_id).values(city="Elsewhere"))
    await db.commit()
    assert (await stored()).body is None
    await builder.refresh(db, member_id, settings)

    # A setting concerns every card: one epoch row, and the stored payload is older.
    await set_setting(db, "card_color", "#112233", None)
    await db.commit()
    row = await stored()
    newest = await db.scalar(select(func.max(CardEpoch.id)))
    assert row.body is not None and row.epoch < newest
    assert "#112233" in (await builder.refresh(db, member_id, settings)).body
    assert (await stored()).epoch == newest


async def test_payload_built_before_an_invalidation_is_not_stored(db, settings, app):
    """Built from generation 0; someone edits the member before it is stored."""
    member = await make_member(db)
    await issue_link(db, member, member, mail_for(settings), dt.date.today())
    await db.commit()
    built = (await builder.build_many(db, [member.id], settings))[member.id]
    await db.commit()
    async with app.state.sessionmaker() as other:
        await invalidate(other, [member.id])
        await other.commit()
    await builder.store(db, [built])
    await db.commit()
    db.expire_all()
    row = (await db.execute(select(CardPayload))).scalar_one()
    assert row.body is None and row.generation == 1


async def test_rebuild_stores_the_same_payload_as_a_single_refresh(db, settings):
    members = [await make_member(db, sca_name=f"Bulk {n}") for n in range(3)]
    ids = [m.id for m in members]
    for m in members:
        await issue_link(db, m, m, mail_for(settings), dt.date.today())
    await db.commit()
    now = dt.datetime.now(dt.UTC)
    assert await builder.rebuild(db, ids, settings, now) == 3
    stored = dict((await db.execute(select(CardPayload.member_id, CardPayload.body))).all())
    await db.commit()
    single = await builder.refresh(db, ids[0], settings, now)
    assert stored[ids[0]] == single.body
    assert '"sca_name":"Bulk 2"' in stored[ids[2]]


def test_the_fast_email_renderer_matches_the_templates():
    from server.cards.issuing import CardEmailRenderer
    from server.mail.outbox import render_email
    from server.settings.registry import definitions

    site = {d.key: d.default for d in definitions()}
    name, url = 'Bob <the "Bold"> & Co', "https://x.example/card/[[sealed:abc=]]"
    for for_parent in (False, True):
        expected = render_email(
            "card_link",
            {
                "site": site,
                "greeting": "Dear " + name,
                "member_name": name,
                "for_parent": for_parent,
                "card_url": url,
            },
        )
        assert CardEmailRenderer(site)("Dear " + name, name, for_parent, url) == expected


async def test_login_bookkeeping_keeps_the_payload(db, settings, client):
    """Failed and successful logins write to the member row; no card shows those columns."""
    member = await make_member(db)
    member_id = member.id
    await issue_link(db, member, member, mail_for(settings), dt.date.today())
    await db.commit()
    await builder.refresh(db, member_id, settings)
    assert (await login(client, member.email, "wrong password")).status_code == 400
    assert (await login(client, member.email)).status_code == 303
    row = (await db.execute(select(CardPayload))).scalar_one()
    await db.commit()
    assert row.body is not None and row.generation == 0


async def test_card_links_are_mailed_under_a_long_site_title(app, db, settings):
    """The card email's subject holds the site title and the member's name: with a
    title of a few hundred characters (the settings page takes 2,000) a bulk run was a
    database error on PostgreSQL and nobody got a link. The subject is cut to fit."""
    branch = await make_branch(db, "Kingdom")
    member = await make_member(db, branch_id=branch.id, sca_name="Ælfric " * 28)
    await set_setting(db, "site_title", "The Most Noble Kingdom " * 14, actor_id=None)
    await db.commit()
    issued, skipped = await issue_selection(
        app.state.sessionmaker,
        Selection(branch.id, ("active",)),
        actor_id=None,
        mail=mail_for(settings),
    )
    assert (issued, skipped) == (1, 0)
    [message] = await _outbox(db, member.id)
    assert len(message.subject) <= 300 and message.subject.endswith("…")
    assert message.subject.startswith("Your The Most Noble Kingdom")
