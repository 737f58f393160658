"""The issue-3 demo step: agreements, applicants for every review case, all seven statuses."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from server.applicants import review
from server.applicants.models import Applicant
from server.demo.command import load_demo
from server.member_codes.models import Agreement
from server.member_codes.validation import is_active_on
from server.members.models import Member
from server.members.status import STATUSES
from server.nightly.runner import run_nightly


async def test_demo_has_review_cases_agreements_and_every_status(database_url, app, db):
    await load_demo(database_url, "http://testserver")
    await load_demo(database_url, "http://testserver")  # idempotent
    today = dt.date.today()
    statuses = set(
        (await db.execute(select(Member.status).where(Member.deleted_at.is_(None)))).scalars()
    )
    assert statuses == {s.key for s in STATUSES}
    agreements = (await db.execute(select(Agreement))).scalars().all()
    assert sorted(is_active_on(a, today, 30) for a in agreements) == [False, True]
    applicants = (await db.execute(select(Applicant))).scalars().all()
    assert len(applicants) == 4
    override = [a for a in applicants if a.code_override]
    assert len(override) == 1
    no_code = (
        (await db.execute(await review.applicant_query(db, ["agreement_no_code"], today)))
        .scalars()
        .all()
    )
    assert len(no_code) == 1
    duplicates = [
        d for a in applicants for d in await review.possible_duplicates(db, a) if d.kind == "member"
    ]
    assert duplicates, "one applicant duplicates a member"
    await db.commit()
    # The nightly run includes age-up and leaves the demo statuses as they are.
    run = await run_nightly(app.state.sessionmaker, today)
    names = [name for name, _summary in run.results]
    assert "age_up" in names and not run.failed
    count = await db.scalar(select(func.count()).select_from(Member))
    assert count >= 7
