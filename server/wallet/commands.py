"""``manage.py wallet-sync``: the wallet loop's work once, for deployments that run the
background jobs from cron (``TESSERA_BACKGROUND_JOBS=false``).

Without it such a deployment never voided a pass in Google Wallet, never pushed a change
to an iPhone, and left every update queued: inside ``serve`` that is the wallet loop's
work (``server.wallet.worker``), which only runs with background jobs on. One run brings
the stale passes up to date (voided when their card link went), then delivers what is
due — pushes and Google updates — batch after batch, and exits. It starts, like the
loop, by handing back what stopped processes of this machine had claimed.
"""

from __future__ import annotations

import argparse
import asyncio

from server.cli import argument, command, positive_int
from server.config import Settings, load_settings
from server.db import leases
from server.db.engine import make_engine, make_sessionmaker
from server.db.leases import worker_name
from server.wallet.delivery import Report, Senders, deliver_once
from server.wallet.models import WalletDelivery
from server.wallet.worker import sweep_once


async def sync(settings: Settings, rounds: int) -> tuple[int, Report]:
    """Stale passes brought up to date, and the deliveries made (at most ``rounds``
    batches); what changed and what the deliveries came to."""
    engine = make_engine(settings.database_url)
    sessionmaker = make_sessionmaker(engine)
    senders = Senders.for_settings(settings)
    total = Report()
    try:
        await leases.release_orphans(sessionmaker, WalletDelivery, worker_name())
        changed = await sweep_once(sessionmaker, settings)
        for _ in range(rounds):
            report = await deliver_once(sessionmaker, settings, senders)
            for kind, count in report.counts.items():
                total.counts[kind] = total.counts.get(kind, 0) + count
            if report.done == 0:
                break
    finally:
        await senders.close()
        await engine.dispose()
    return changed, total


@command(
    "wallet-sync",
    "Bring wallet passes up to date and deliver due pushes and Google updates once (cron).",
)
@argument("--rounds", type=positive_int, default=100, help="Most batches of deliveries to send.")
def wallet_sync(args: argparse.Namespace) -> int:
    from server.core_commands import prepare_database

    settings = load_settings()
    if not settings.wallet.any:
        print("No wallet is configured (WALLET_APPLE_*, WALLET_GOOGLE_*): nothing to do.")
        return 0
    if not prepare_database(settings.database_url):
        return 1
    changed, report = asyncio.run(sync(settings, args.rounds))
    outcomes = ", ".join(f"{kind} {n}" for kind, n in sorted(report.counts.items())) or "none"
    print(f"passes changed or voided: {changed}; deliveries: {outcomes}")
    return 0 if set(report.counts) <= {"sent", "dropped"} else 1
