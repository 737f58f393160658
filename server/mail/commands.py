"""``manage.py send-mail``: deliver what is due from the command line (and retry failed mail)."""

from __future__ import annotations

import argparse
import asyncio

from server.cli import argument, command
from server.config import load_settings
from server.db.engine import make_engine, make_sessionmaker
from server.mail.delivery import Report, deliver_once
from server.mail.retry import retry_failed


async def _send_all(rounds: int, retry: bool) -> tuple[int, Report]:
    settings = load_settings()
    engine = make_engine(settings.database_url)
    sessionmaker = make_sessionmaker(engine)
    total = Report()
    requeued = 0
    try:
        if retry:
            async with sessionmaker() as db:
                requeued = await retry_failed(db, actor_id=None)
                await db.commit()
        for _ in range(rounds):
            report = await deliver_once(sessionmaker, settings)
            total.sent += report.sent
            total.retried += report.retried
            total.failed += report.failed
            total.released += report.released
            total.server_problem = report.server_problem or total.server_problem
            if report.server_problem or report.done == 0:
                break
    finally:
        await engine.dispose()
    return requeued, total


@command("send-mail", "Deliver the outbox once (whatever is due now) and exit.")
@argument("--rounds", type=int, default=1000, help="Most batches to send (50 messages each).")
@argument(
    "--retry-failed",
    action="store_true",
    help="First queue every failed message again (after fixing what made it fail).",
)
def send_mail(args: argparse.Namespace) -> int:
    requeued, report = asyncio.run(_send_all(args.rounds, args.retry_failed))
    if args.retry_failed:
        print(f"queued again {requeued} failed message(s)")
    print(f"sent {report.sent}, to retry later {report.retried}, failed {report.failed}")
    if report.server_problem:
        print(f"not tried {report.released}: {report.server_problem}")
    return 0 if report.retried + report.failed + report.released == 0 else 1
