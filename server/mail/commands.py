"""``manage.py send-mail``: one delivery round from the command line."""

from __future__ import annotations

import argparse
import asyncio

from server.cli import argument, command
from server.config import load_settings
from server.db.engine import make_engine, make_sessionmaker
from server.mail.delivery import Report, deliver_once


async def _send_all(rounds: int) -> Report:
    settings = load_settings()
    engine = make_engine(settings.database_url)
    total = Report()
    try:
        for _ in range(rounds):
            report = await deliver_once(make_sessionmaker(engine), settings)
            total.sent += report.sent
            total.retried += report.retried
            total.failed += report.failed
            if report.sent + report.retried + report.failed == 0:
                break
    finally:
        await engine.dispose()
    return total


@command("send-mail", "Deliver the outbox once (whatever is due now) and exit.")
@argument("--rounds", type=int, default=1000, help="Most batches to send (50 messages each).")
def send_mail(args: argparse.Namespace) -> int:
    report = asyncio.run(_send_all(args.rounds))
    print(f"sent {report.sent}, to retry later {report.retried}, failed {report.failed}")
    return 0 if report.retried + report.failed == 0 else 1
