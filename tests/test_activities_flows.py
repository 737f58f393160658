"""Requesting, voting, activating, revoking and retracting authorizations (both backends)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from server.audit.models import AuditEntry
from server.mail.models import OutboxMessage
from server.plugins.activities.decisions import revoke, vote
from server.plugins.activities.models import (
    APPROVED,
    DENIED,
    EXPIRED,
    PENDING,
    REPLACED,
    RETRACTED,
    REVOKED,
    Authorization,
    AuthorizationVote,
)
from server.plugins.activities.notify import ActivityError
from server.plugins.activities.requests import request_authorization, retract
from server.plugins.activities.terms import add_months
from tests.activities_fixtures import make_activity, make_authorization, make_authorizer
from tests.factories import make_member, make_staff

TODAY = dt.date.today()


async def _statuses(db, member):
    rows = await db.scalars(
        select(Authorization.status)
        .where(Authorization.member_id == member.id)
        .order_by(Authorization.id)
    )
    return list(rows)


async def _mail(db, member):
    return list(
        await db.scalars(
            select(OutboxMessage.subject)
            .where(OutboxMessage.member_id == member.id)
            .order_by(OutboxMessage.id)
        )
    )


def test_add_months_clamps_to_the_end_of_the_month():
    assert add_months(dt.date(2026, 1, 31), 1) == dt.date(2026, 2, 28)
    assert add_months(dt.date(2026, 11, 15), 24) == dt.date(2028, 11, 15)
    assert add_months(dt.date(2024, 2, 29), 12) == dt.date(2025, 2, 28)


async def test_request_then_two_distinct_approvals_activate_with_expiry(db):
    activity = await make_activity(db, name="Armored", approvals_new=2, term_months=24)
    member = await make_member(db)
    first, second = await make_authorizer(db), await make_authorizer(db)
    auth = await request_authorization(
        db, member=member, activity=activity, actor=member, renewal=False, today=TODAY
    )
    await db.commit()
    assert auth.status == PENDING
    await vote(db, authorization_id=auth.id, authorizer=first, approve=True, note="", today=TODAY)
    await db.commit()
    assert auth.status == PENDING  # one of two
    with pytest.raises(ActivityError, match="already voted"):
        await vote(
            db, authorization_id=auth.id, authorizer=first, approve=True, note="", today=TODAY
        )
    await vote(db, authorization_id=auth.id, authorizer=second, approve=True, note="", today=TODAY)
    await db.commit()
    await db.refresh(auth)
    assert auth.status == APPROVED
    assert auth.start_on == TODAY
    assert auth.expires_on == add_months(TODAY, 24)
    assert await _mail(db, member) == [
        "Your request for Armored is waiting for authorizers",
        "You are authorized for Armored",
    ]
    actions = list(
        await db.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.member_id == member.id)
            .order_by(AuditEntry.id)
        )
    )
    assert actions == ["authorization.requested", "authorization.approved"]


async def test_authorizer_needs_the_activity_permission_and_is_never_the_requester(db):
    activity = await make_activity(db, name="Rapier", authorize_permission="authorize_rapier")
    marshal = await make_authorizer(db, "authorize_rapier")
    wrong = await make_authorizer(db, "authorize_archery")
    auth = await request_authorization(
        db, member=marshal, activity=activity, actor=marshal, renewal=False, today=TODAY
    )
    await db.commit()
    with pytest.raises(ActivityError, match="your own request"):
        await vote(
            db, authorization_id=auth.id, authorizer=marshal, approve=True, note="", today=TODAY
        )
    with pytest.raises(ActivityError, match="may not authorize Rapier"):
        await vote(
            db, authorization_id=auth.id, authorizer=wrong, approve=True, note="", today=TODAY
        )
    assert await db.scalar(select(AuthorizationVote.id)) is None
    assert (await db.get(Authorization, auth.id)).status == PENDING


async def test_an_expired_membership_takes_the_authorizer_permission_away(db):
    activity = await make_activity(db)
    lapsed = await make_staff(
        db, ["authorize_armored_combat"], membership_expires_on=TODAY - dt.timedelta(days=1)
    )
    member = await make_member(db)
    auth = await make_authorization(db, member, activity, status=PENDING)
    await db.commit()
    with pytest.raises(ActivityError, match="may not authorize"):
        await vote(
            db, authorization_id=auth.id, authorizer=lapsed, approve=True, note="", today=TODAY
        )


async def test_a_denial_decides_and_is_mailed_with_the_note(db):
    activity = await make_activity(db, name="Archery", approvals_new=2)
    member = await make_member(db)
    auth = await make_authorization(db, member, activity, status=PENDING)
    marshal = await make_authorizer(db)
    await vote(
        db,
        authorization_id=auth.id,
        authorizer=marshal,
        approve=False,
        note="Work on your shield",
        today=TODAY,
    )
    await db.commit()
    assert auth.status == DENIED
    message = await db.scalar(select(OutboxMessage).where(OutboxMessage.member_id == member.id))
    assert "Work on your shield" in message.body_text
    with pytest.raises(ActivityError, match="already decided"):
        await vote(
            db,
            authorization_id=auth.id,
            authorizer=await make_authorizer(db),
            approve=True,
            note="",
            today=TODAY,
        )


async def test_age_limits_and_missing_birth_date(db):
    youth = await make_activity(db, name="Youth Boffer", minimum_age=6, maximum_age=17)
    adult_only = await make_activity(db, name="Heavy", minimum_age=18)
    open_to_all = await make_activity(db, name="Open")
    parent = await make_member(db)
    child = await make_member(db, birth_year=TODAY.year - 12, parent_id=parent.id)
    grown = await make_member(db)
    unknown = await make_member(db, birth_month=None, birth_year=None)
    with pytest.raises(ActivityError, match="at least 18 \\(you are 1[12]\\)"):
        await request_authorization(
            db, member=child, activity=adult_only, actor=parent, renewal=False, today=TODAY
        )
    with pytest.raises(ActivityError, match="ages up to 17"):
        await request_authorization(
            db, member=grown, activity=youth, actor=grown, renewal=False, today=TODAY
        )
    with pytest.raises(ActivityError, match="birth month and year are not recorded"):
        await request_authorization(
            db, member=unknown, activity=youth, actor=unknown, renewal=False, today=TODAY
        )
    # the parent requests for their minor; no limit means no limit
    await request_authorization(
        db, member=child, activity=youth, actor=parent, renewal=False, today=TODAY
    )
    await request_authorization(
        db, member=unknown, activity=open_to_all, actor=unknown, renewal=False, today=TODAY
    )
    with pytest.raises(ActivityError, match="yourself or your minor child"):
        await request_authorization(
            db, member=grown, activity=open_to_all, actor=parent, renewal=False, today=TODAY
        )


async def test_no_second_pending_request_and_renewal_rules(db):
    activity = await make_activity(db, name="Rapier Melee")
    member = await make_member(db)
    with pytest.raises(ActivityError, match="renewal needs a current authorization"):
        await request_authorization(
            db, member=member, activity=activity, actor=member, renewal=True, today=TODAY
        )
    await request_authorization(
        db, member=member, activity=activity, actor=member, renewal=False, today=TODAY
    )
    with pytest.raises(ActivityError, match="already a pending request"):
        await request_authorization(
            db, member=member, activity=activity, actor=member, renewal=False, today=TODAY
        )
    assert await _statuses(db, member) == [PENDING]


async def test_renewal_replaces_the_previous_authorization(db):
    activity = await make_activity(
        db, name="Lance", term_months=12, approvals_renewal=1, approvals_new=3
    )
    member = await make_member(db)
    old = await make_authorization(db, member, activity, expires_on=TODAY + dt.timedelta(days=10))
    with pytest.raises(ActivityError, match="request a renewal"):
        await request_authorization(
            db, member=member, activity=activity, actor=member, renewal=False, today=TODAY
        )
    renewal = await request_authorization(
        db, member=member, activity=activity, actor=member, renewal=True, today=TODAY
    )
    await db.commit()
    await vote(
        db,
        authorization_id=renewal.id,
        authorizer=await make_authorizer(db),
        approve=True,
        note="",
        today=TODAY,
    )
    await db.commit()
    await db.refresh(old)
    assert (old.status, old.replaced_by_id) == (REPLACED, renewal.id)
    assert renewal.status == APPROVED and renewal.expires_on == add_months(TODAY, 12)
    # The replaced authorization's own history says when it ended, and why.
    [entry] = await db.scalars(
        select(AuditEntry).where(
            AuditEntry.entity_type == "authorizations", AuditEntry.entity_id == old.id
        )
    )
    assert entry.action == "authorization.replaced" and entry.member_id == member.id
    assert entry.before == {"status": APPROVED}
    assert entry.after == {"status": REPLACED, "replaced_by_id": renewal.id}


async def test_no_term_means_no_expiry(db):
    activity = await make_activity(db, name="Siege", term_months=None)
    member = await make_member(db)
    auth = await make_authorization(db, member, activity, status=PENDING)
    await vote(
        db,
        authorization_id=auth.id,
        authorizer=await make_authorizer(db),
        approve=True,
        note="",
        today=TODAY,
    )
    assert auth.status == APPROVED and auth.expires_on is None


async def test_revoke_needs_permission_and_reason_and_keeps_history(db):
    activity = await make_activity(db, name="Combat Archery")
    member = await make_member(db)
    auth = await make_authorization(db, member, activity)
    admin = await make_staff(db, ["manage_activities"])
    marshal = await make_authorizer(db)
    await db.commit()
    with pytest.raises(ActivityError, match="manage_activities"):
        await revoke(db, authorization_id=auth.id, actor=marshal, reason="x", today=TODAY)
    with pytest.raises(ActivityError, match="Give a reason"):
        await revoke(db, authorization_id=auth.id, actor=admin, reason="  ", today=TODAY)
    await revoke(db, authorization_id=auth.id, actor=admin, reason="Unsafe blows", today=TODAY)
    await db.commit()
    await db.refresh(auth)
    assert (auth.status, auth.revoked_by_id, auth.revoked_reason) == (
        REVOKED,
        admin.id,
        "Unsafe blows",
    )
    assert await _mail(db, member) == ["Your authorization for Combat Archery was revoked"]
    with pytest.raises(ActivityError, match="Only an approved"):
        await revoke(db, authorization_id=auth.id, actor=admin, reason="again", today=TODAY)


async def test_retract_own_pending_only(db):
    activity = await make_activity(db, name="Cut and Thrust")
    member, other = await make_member(db), await make_member(db)
    auth = await make_authorization(db, member, activity, status=PENDING)
    with pytest.raises(ActivityError, match="your own requests"):
        await retract(db, authorization=auth, member=member, actor=other, today=TODAY)
    await retract(db, authorization=auth, member=member, actor=member, today=TODAY)
    await db.commit()
    assert auth.status == RETRACTED
    with pytest.raises(ActivityError, match="no longer pending"):
        await retract(db, authorization=auth, member=member, actor=member, today=TODAY)


async def test_database_allows_one_pending_and_one_approved_per_activity(db):
    from sqlalchemy.exc import IntegrityError

    activity = await make_activity(db)
    member = await make_member(db)
    await make_authorization(db, member, activity, status=APPROVED)
    await make_authorization(db, member, activity, status=EXPIRED)
    await make_authorization(db, member, activity, status=EXPIRED)
    await db.commit()
    with pytest.raises(IntegrityError):
        await make_authorization(db, member, activity, status=APPROVED)


async def test_a_renewal_cannot_be_approved_once_what_it_renews_was_revoked(db):
    activity = await make_activity(
        db, name="Cut and Thrust", term_months=12, approvals_renewal=1, approvals_new=3
    )
    member = await make_member(db)
    current = await make_authorization(db, member, activity)
    renewal = await request_authorization(
        db, member=member, activity=activity, actor=member, renewal=True, today=TODAY
    )
    admin = await make_staff(db, ["manage_activities"])
    authorizer = await make_authorizer(db)
    await db.commit()
    await revoke(db, authorization_id=current.id, actor=admin, reason="Unsafe", today=TODAY)
    await db.commit()
    with pytest.raises(ActivityError, match="revoked after it was asked for"):
        await vote(
            db,
            authorization_id=renewal.id,
            authorizer=authorizer,
            approve=True,
            note="",
            today=TODAY,
        )
    await db.rollback()
    for row in (renewal, authorizer):
        await db.refresh(row)
    assert renewal.status == PENDING
    assert await db.scalar(select(AuthorizationVote.id)) is None
    # The request can still be denied, which decides it.
    await vote(
        db, authorization_id=renewal.id, authorizer=authorizer, approve=False, note="", today=TODAY
    )
    await db.commit()
    assert await _statuses(db, member) == [REVOKED, DENIED]
