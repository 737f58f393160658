"""``manage.py weekly-recap``: the Membership Office hears about new members once."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from pathlib import Path

from sqlalchemy import select

from server.applicants.models import RecapEntry
from server.applicants.recap import weekly_recap_job
from tests.applicant_fixtures import outbox, set_site
from tests.factories import make_member
from tests.live import run_manage

ROOT = Path(__file__).resolve().parent.parent


def _run(database_url: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "TESSERA_DATA_DIR": str(tmp_path),
        "SECRET_KEY": "x" * 40,
    }
    return run_manage(env, "weekly-recap", timeout=60)


async def test_weekly_recap_command(db, database_url, tmp_path):
    result = _run(database_url, tmp_path)
    assert result.returncode == 1 and "Membership Office email" in result.stdout
    await set_site(db, "membership_office_email", "office@example.org")
    anna = await make_member(db, sca_name="Anna of the Marsh")
    bert = await make_member(db, sca_name="Bert the Bard")
    db.add_all([RecapEntry(member_id=anna.id), RecapEntry(member_id=bert.id)])
    await db.commit()

    result = _run(database_url, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "2 new member(s)" in result.stdout
    [mail] = await outbox(db, "weekly_recap")
    assert mail.to_addr == "office@example.org"
    assert "2 new members" in mail.subject
    assert "Anna of the Marsh" in mail.body_text and "Bert the Bard" in mail.body_text
    rows = (await db.execute(select(RecapEntry))).scalars().all()
    assert len(rows) == 2 and all(r.sent_at is not None for r in rows)  # marked, not deleted
    await db.commit()

    result = _run(database_url, tmp_path)
    assert "no new members" in result.stdout
    mails = await outbox(db, "weekly_recap")
    assert len(mails) == 2
    latest = max(mails, key=lambda m: m.id)
    assert "no new members" in latest.subject
    assert "No new members this week." in latest.body_text
    assert "Anna" not in latest.body_text


async def test_nightly_recap_runs_on_mondays_once(db):
    await set_site(db, "membership_office_email", "office@example.org")
    tuesday = dt.date(2026, 11, 24)
    monday = dt.date(2026, 11, 23)
    assert "not Monday" in await weekly_recap_job(db, tuesday)
    assert "0 new member(s)" in await weekly_recap_job(db, monday)
    await db.commit()
    assert "already sent" in await weekly_recap_job(db, monday)
    await db.commit()
    assert len(await outbox(db, "weekly_recap")) == 1


async def test_nightly_recap_for_later_mondays_sends_each_week(db):
    """``nightly --date`` for next Monday and the Monday after (a catch-up, or a test of
    the weeks ahead) sends one recap per week: the week is counted from the run's date,
    not from the machine's clock, so the first recap does not hide the second."""
    await set_site(db, "membership_office_email", "office@example.org")
    today = dt.date.today()
    monday = today + dt.timedelta(days=7 - today.weekday())
    anna = await make_member(db, sca_name="Anna of the Marsh")
    db.add(RecapEntry(member_id=anna.id))
    await db.commit()
    assert "1 new member(s)" in await weekly_recap_job(db, monday)
    await db.commit()
    bert = await make_member(db, sca_name="Bert the Bard")
    db.add(RecapEntry(member_id=bert.id))
    await db.commit()
    assert "1 new member(s)" in await weekly_recap_job(db, monday + dt.timedelta(days=7))
    await db.commit()
    mails = await outbox(db, "weekly_recap")
    assert len(mails) == 2
    assert "Bert the Bard" in max(mails, key=lambda m: m.id).body_text
