"""Event records older than the retention setting are purged nightly, in batches
(issue 14 item 7); history (the audit log) and undelivered mail are kept."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from server.audit.log import record
from server.audit.models import AuditEntry
from server.checks.models import CheckEntry
from server.mail.models import OutboxMessage
from server.mail.outbox import queue_email
from server.nightly import retention
from server.nightly.runner import run_nightly
from server.settings.store import set_setting

TODAY = dt.date(2031, 3, 1)


def _at(days_ago: int) -> dt.datetime:
    return dt.datetime.combine(TODAY, dt.time(12), tzinfo=dt.UTC) - dt.timedelta(days=days_ago)


def _mail(db, to: str, status: str, days_ago: int) -> None:
    message = queue_email(
        db,
        to=to,
        template="password_reset",
        context={"member": None, "link": "x", "site_title": "T"},
    )
    message.status = status
    message.created_at = _at(days_ago)


async def _count(db, column, *where) -> int:
    value = await db.scalar(select(func.count(column)).where(*where))
    await db.commit()
    return int(value or 0)


async def test_old_event_records_go_and_history_stays(app, db):
    for days_ago in (500, 450, 401, 401, 401, 399, 10):
        db.add(CheckEntry(checked_at=_at(days_ago), recorded_at=_at(days_ago), result="ok"))
    _mail(db, "old-sent@example.org", "sent", 500)
    _mail(db, "old-failed@example.org", "failed", 500)
    _mail(db, "old-queued@example.org", "queued", 500)
    _mail(db, "new-sent@example.org", "sent", 5)
    record(db, actor_id=None, action="something.old", entity_type="system")
    await db.flush()
    old_audit = (await db.execute(select(AuditEntry))).scalar_one()
    old_audit.at = _at(3000)
    await db.commit()

    run = await run_nightly(app.state.sessionmaker, TODAY)
    summary = dict(run.results)["retention"]
    assert summary.startswith("older than 400 days deleted: 5 check log, 1 sent mail")
    assert await _count(db, CheckEntry.id) == 2
    left = set((await db.execute(select(OutboxMessage.to_addr))).scalars())
    await db.commit()
    assert left == {"old-failed@example.org", "old-queued@example.org", "new-sent@example.org"}
    assert await _count(db, AuditEntry.id, AuditEntry.action == "something.old") == 1


async def test_purge_deletes_in_batches_of_the_given_size(db):
    for _ in range(7):
        db.add(CheckEntry(checked_at=_at(800), recorded_at=_at(800), result="ok"))
    await db.commit()
    deleted_per_statement: list[int] = []
    from sqlalchemy import event

    engine = db.bind.sync_engine if hasattr(db.bind, "sync_engine") else db.get_bind()

    @event.listens_for(engine, "after_execute")
    def count(conn, clauseelement, multiparams, params, execution_options, result):  # noqa: ARG001
        if str(clauseelement).startswith("DELETE FROM check_log"):
            deleted_per_statement.append(result.rowcount)

    try:
        deleted = await retention.purge(db, TODAY, 400, batch=3)
    finally:
        event.remove(engine, "after_execute", count)
    assert deleted["check log"] == 7
    assert deleted_per_statement == [3, 3, 1]


async def test_the_retention_period_is_a_setting(app, db):
    db.add(CheckEntry(checked_at=_at(40), recorded_at=_at(40), result="ok"))
    await set_setting(db, "event_retention_days", 30, actor_id=None)
    await db.commit()
    await run_nightly(app.state.sessionmaker, TODAY)
    assert await _count(db, CheckEntry.id) == 0


async def test_old_wallet_deliveries_go_and_waiting_ones_stay(app, db):
    from server.cards.models import CardLink
    from server.wallet.models import WalletDelivery, WalletPass
    from tests.factories import make_member

    member = await make_member(db)
    link = CardLink(member_id=member.id, token_hash="r" * 64)
    db.add(link)
    await db.flush()
    wallet_pass = WalletPass(member_id=member.id, card_link_id=link.id, wallet="google", serial="s")
    db.add(wallet_pass)
    await db.flush()
    kept = {}
    for status, days_ago in (
        ("sent", 500),
        ("dropped", 450),
        ("failed", 401),
        ("queued", 500),  # still to be sent: never purged
        ("sending", 500),
        ("sent", 10),
    ):
        row = WalletDelivery(
            kind="google",
            pass_id=wallet_pass.id,
            status=status,
            created_at=_at(days_ago),
            next_attempt_at=_at(days_ago),
        )
        db.add(row)
        await db.flush()
        kept[row.id] = (status, days_ago)
    await db.commit()

    run = await run_nightly(app.state.sessionmaker, TODAY)
    assert "3 wallet updates" in dict(run.results)["retention"]
    left = set((await db.execute(select(WalletDelivery.status, WalletDelivery.created_at))).all())
    await db.commit()
    assert {status for status, _ in left} == {"queued", "sending", "sent"}
    assert len(left) == 3
