"""``python manage.py bench-check``: the live check page under load, against a bare route.

Seeds a temporary SQLite register (members only, fast), signs a code for each of the
members the load asks for (distinct codes, so no cache helps), and measures the real app
against the bare reference route with ``server.bench``'s servers and load generator,
adding the server's CPU time per request. Prints req/s, p50/p99 and the ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import secrets
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

from server.bench import load
from server.bench.servers import uvicorn
from server.checks import codes, keyring
from server.cli import argument, command
from server.migrate import upgrade

MEMBER_SQL = (
    "INSERT INTO members (public_id, sca_name, first_name, middle_name, last_name, email, "
    "email_key, street_address, city, state, zip, phone, status, deactivation_reason, "
    "public_notes, private_notes, additional_info, is_superuser, is_staff, "
    "failed_login_attempts, created_at, modified_at, version, membership_expires_on) "
    "VALUES (?, ?, '', '', '', ?, ?, '', '', '', '', '', ?, '', '', '', '{}', 0, 0, 0, "
    "'2026-01-01 00:00:00.000000', '2026-01-01 00:00:00.000000', 1, ?)"
)
STATUSES = ("verified", "verified", "verified", "active", "deactivated")


def _seed(path: Path, members: int) -> list[str]:
    expires = (dt.date.today() + dt.timedelta(days=200)).isoformat()
    public_ids = [secrets.token_hex(8) for _ in range(members)]
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.executemany(
            MEMBER_SQL,
            (
                (p, f"Member {n}", f"m{n}@bench.test", f"m{n}@bench.test", STATUSES[n % 5], expires)
                for n, p in enumerate(public_ids)
            ),
        )
        conn.commit()
    return public_ids


class Load(NamedTuple):
    measured: load.Measurement
    cpu_us: float  # the server's CPU time per request


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux), to compare cost per request."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _load(base: str, targets: Path, args: argparse.Namespace, seconds: int, pid: int) -> Load:
    cpu_before = _cpu_seconds(pid)
    m = load.run(
        base, targets, connections=args.connections, seconds=seconds, workdir=targets.parent
    )
    return Load(m, (_cpu_seconds(pid) - cpu_before) / max(1, m.requests) * 1e6)


@command("bench-check", "Measure the live check page /check/{code} against a bare route.")
@argument("--members", type=int, default=100_000)
@argument("--codes", type=int, default=20_000, help="Distinct codes the load picks from.")
@argument("--connections", type=int, default=64)
@argument("--seconds", type=int, default=15)
def bench_check(args: argparse.Namespace) -> int:
    if shutil.which("wrk") is None:
        print("bench-check needs wrk (apt-get install wrk).", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="tessera-bench-check-") as tmp:
        work = Path(tmp)
        database = work / "bench.sqlite3"
        asyncio.run(upgrade(f"sqlite+aiosqlite:///{database}"))
        public_ids = _seed(database, args.members)
        ring = keyring.load_or_create(work)
        now = dt.datetime.now(dt.UTC)
        chosen = public_ids[: args.codes]
        paths = work / "paths.txt"
        load.write_targets(
            paths, [(f"/check/{codes.mobile_code(ring, p, now)}", "") for p in chosen]
        )
        reference_paths = work / "ref.txt"
        load.write_targets(reference_paths, [("/reference.json", "")])
        env = {
            "DATABASE_URL": f"sqlite+aiosqlite:///{database}",
            "TESSERA_DATA_DIR": str(work),
            "SECRET_KEY": secrets.token_urlsafe(32),
            "TESSERA_BACKGROUND_JOBS": "false",
        }
        print(
            f"bench-check: {args.members:,} members, {len(chosen):,} distinct codes, "
            f"{args.connections} connections, {args.seconds} s each, one uvicorn worker"
        )
        with uvicorn(
            "server.bench.reference_app:app", env, "/reference.json", work / "ref.log"
        ) as (base, pid):
            _load(base, reference_paths, args, 2, pid)  # warm-up
            reference = _load(base, reference_paths, args, args.seconds, pid)
        with uvicorn("server.asgi:app", env, "/login", work / "app.log") as (base, pid):
            _load(base, paths, args, 2, pid)  # warm-up
            check = _load(base, paths, args, args.seconds, pid)
            time.sleep(0.5)  # the check log is written a moment after each check
            with contextlib.closing(sqlite3.connect(database)) as conn:
                entries = conn.execute("SELECT count(*) FROM check_log").fetchone()[0]
        for name, (m, cpu_us) in (("reference", reference), ("check", check)):
            print(
                f"{name} req/s {m.rps:.0f}  p50 ms {m.p50_ms:.2f}  p99 ms {m.p99_ms:.2f}"
                f"  server CPU us/request {cpu_us:.0f}  errors {m.errors}"
            )
        print(f"check ratio {check.measured.rps / reference.measured.rps:.2f}")
        print(f"check CPU ratio {reference.cpu_us / check.cpu_us:.2f}")
        print(f"check log rows written {entries:,}")
    return 0
