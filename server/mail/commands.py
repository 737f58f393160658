"""``manage.py send-mail``: deliver what is due from the command line (and retry failed mail).

It stops like the server does: on SIGTERM (a cron or systemd timeout) or Ctrl-C the
message in flight is finished and recorded and the rest of the batch is handed back at
once. It starts, like the server, by handing back what stopped processes of this
machine had claimed (an earlier ``send-mail`` or server killed with SIGKILL).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from dataclasses import dataclass

from server.cli import argument, command, positive_int
from server.config import load_settings
from server.db.engine import make_engine, make_sessionmaker
from server.db.leases import worker_name
from server.mail.delivery import Report, check_smtp_url, deliver_once, release_orphans
from server.mail.retry import retry_failed

STOPPED_EXIT = 128 + signal.SIGTERM


@dataclass
class Run:
    requeued: int = 0
    report: Report | None = None
    stopped: bool = False


async def _send_all(rounds: int, retry: bool, run: Run) -> None:
    settings = load_settings()
    check_smtp_url(settings)
    engine = make_engine(settings.database_url)
    sessionmaker = make_sessionmaker(engine)
    total = run.report = Report()
    try:
        await release_orphans(sessionmaker, worker_name())
        if retry:
            async with sessionmaker() as db:
                run.requeued = await retry_failed(db, actor_id=None)
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


async def _main(rounds: int, retry: bool, run: Run) -> None:
    """``_send_all``, cancelled (the message in flight finished) on SIGTERM."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None

    def stop() -> None:
        run.stopped = True
        task.cancel()

    loop.add_signal_handler(signal.SIGTERM, stop)
    try:
        await _send_all(rounds, retry, run)
    except asyncio.CancelledError:
        if not run.stopped:
            raise
    finally:
        loop.remove_signal_handler(signal.SIGTERM)


@command("send-mail", "Deliver the outbox once (whatever is due now) and exit.")
@argument(
    "--rounds", type=positive_int, default=1000, help="Most batches to send (50 messages each)."
)
@argument(
    "--retry-failed",
    action="store_true",
    help="First queue every failed message again (after fixing what made it fail).",
)
def send_mail(args: argparse.Namespace) -> int:
    from server.core_commands import prepare_database

    settings = load_settings()
    check_smtp_url(settings)
    if not prepare_database(settings.database_url):
        return 1
    run = Run()
    code = STOPPED_EXIT
    try:
        asyncio.run(_main(args.rounds, args.retry_failed, run))
    except KeyboardInterrupt:  # Ctrl-C: asyncio.run cancelled the delivery like SIGTERM
        run.stopped, code = True, 130
    report = run.report or Report()
    if args.retry_failed:
        print(f"queued again {run.requeued} failed message(s)")
    if run.stopped:
        print(
            "stopped: the message in flight was finished and the rest handed back to the queue",
            file=sys.stderr,
        )
        return code
    print(f"sent {report.sent}, to retry later {report.retried}, failed {report.failed}")
    if report.server_problem:
        print(f"not tried {report.released}: {report.server_problem}")
    return 0 if report.retried + report.failed + report.released == 0 else 1
