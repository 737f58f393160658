"""``python manage.py bench --day``: seed a register, serve it with ``manage.py serve``
as a user runs it, strike midnight, drive a day of mixed traffic with a nightly run in
the middle, and hold the figures to the targets (exit 1 when one is missed).

The bare Starlette route runs beside the server and is driven by the same load process
with the same connections per class, for a quarter of the day before it and a quarter
after it (the day itself is one piece: midnight, the nightly run and the rebuilds it
causes are what it measures); each class's ratio is taken against that.

Nothing is pinned to a core: ``serve`` and its workers, PostgreSQL, the nightly run
and the load process share the machine as they would on a small server.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from server.bench.day import postgres
from server.bench.day.plan import Connections, Plan
from server.bench.day.report import Nightly, Outcome, ServerLog, lines
from server.bench.officer import create_officer
from server.bench.seed import Seeded, seed
from server.bench.servers import ROOT, free_port, serve, uvicorn
from server.cards.invalidation import invalidate
from server.checks import codes, keyring
from server.config import load_settings
from server.db.engine import make_engine, make_sessionmaker

MEMBERS = 100_000
MIN_MEMBERS = 100
SECONDS = 60.0
QUICK_MEMBERS = 10_000  # ``--quick``: a short day, to see it run rather than to measure
QUICK_SECONDS = 15.0
REFRESHED_CARDS = 2_000  # cards the refresh class cycles through (built before midnight)
STATUS_MEMBERS = 50  # members the status actions deactivate and reactivate in turn
NIGHTLY_TIMEOUT = 900.0
LOAD_GRACE = 60.0  # seconds past the plan's end before the load process is given up


def _say(text: str) -> None:
    print(text, flush=True)


def sizes(args: argparse.Namespace) -> tuple[int, float]:
    """Members to seed and seconds to drive: the options given, else the day's defaults
    (``--quick``: a smaller register and a shorter day)."""
    quick = bool(getattr(args, "quick", False))
    members = args.members or (QUICK_MEMBERS if quick else MEMBERS)
    seconds = args.seconds or (QUICK_SECONDS if quick else SECONDS)
    return members, seconds


def run_day(args: argparse.Namespace) -> int:
    members, seconds = sizes(args)
    if members < MIN_MEMBERS:
        _say(f"bench --day needs at least {MIN_MEMBERS} members.")
        return 2
    problem = postgres.unreachable(args.postgres) if args.postgres else None
    if problem:
        _say(problem)
        return 2
    workers = args.workers or (2 if args.postgres else 1)
    connections = Connections(hot=args.connections or Connections.hot)
    database = "PostgreSQL" if args.postgres else "SQLite"
    _say(
        f"bench --day: {members:,} members, {seconds:.0f} s, {database}, "
        f"{workers} worker{'s' if workers > 1 else ''}, connections "
        + ", ".join(f"{k} {v}" for k, v in connections.per_class().items())
    )
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="tessera-day-") as tmp:
        work = Path(tmp)
        port = free_port()
        sqlite_path = work / "day.sqlite3"
        env = {
            "TESSERA_DATA_DIR": str(work),
            "BASE_URL": f"http://127.0.0.1:{port}",
            "DATABASE_URL": f"sqlite+aiosqlite:///{sqlite_path}",
        }
        refreshed = min(REFRESHED_CARDS, members // 2)
        seeded = asyncio.run(seed(load_settings(env), members, refreshed, _say))
        _yesterdays_cards(sqlite_path)
        plan = _plan(sqlite_path, work, seeded, env["BASE_URL"], seconds, connections)
        with _database(args.postgres, sqlite_path) as url:
            env["DATABASE_URL"] = url
            officer = asyncio.run(create_officer(url))
            plan.officer_email, plan.officer_password = officer.email, officer.password
            outcome = _day(env, work, plan, workers, port)
    for line in ["", *lines(outcome)]:
        _say(line)
    missed = outcome.misses()
    for miss in missed:
        _say(f"target missed: {miss}")
    _say("all targets met" if not missed else f"{len(missed)} targets missed")
    _say(f"total time {time.monotonic() - started:.0f} s")
    return 1 if missed else 0


@contextlib.contextmanager
def _database(postgres_url: str | None, sqlite_path: Path) -> Iterator[str]:
    """The URL the day runs on: the seeded SQLite file, or a PostgreSQL copy of it."""
    if not postgres_url:
        yield f"sqlite+aiosqlite:///{sqlite_path}"
        return
    with postgres.database_of_its_own(postgres_url) as url:
        asyncio.run(postgres.copy_register(str(sqlite_path), url, _say))
        yield url


def _yesterdays_cards(path: Path) -> None:
    """Every member's card was built yesterday: give each a payload row (empty, as the
    midnight invalidation leaves it), so midnight reaches the whole register."""
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        conn.execute(
            "INSERT INTO card_payloads (member_id, generation, valid_until) "
            "SELECT id, 0, 0 FROM members "
            "WHERE id NOT IN (SELECT member_id FROM card_payloads)"
        )


def _plan(
    path: Path,
    data_dir: Path,
    seeded: Seeded,
    base_url: str,
    seconds: float,
    connections: Connections,
) -> Plan:
    """Distinct tokens and codes for every class, from the seeded register."""
    rng = random.Random(20261201)
    with contextlib.closing(sqlite3.connect(path)) as conn:
        people = conn.execute("SELECT id, public_id, status FROM members ORDER BY id").fetchall()
        branch_ids = [row[0] for row in conn.execute("SELECT id FROM branches")]
    refreshed = {t.member_id for t in seeded.loaded}
    adults = [n for n, _, status in people if status in ("active", "verified") and n > 1]
    candidates = [n for n in adults if n not in refreshed]
    acted_on = set(rng.sample(candidates, min(STATUS_MEMBERS, len(candidates))))
    if not acted_on:
        raise RuntimeError("the register is too small: no adult member for the status actions")
    ring = keyring.load_or_create(data_dir)
    now = dt.datetime.now(dt.UTC)
    started = time.monotonic()
    check_codes = [
        codes.mobile_code(ring, public_id, now, None)
        for n, public_id, _ in people
        if n not in acted_on
    ]
    _say(f"{len(check_codes):,} check codes signed in {time.monotonic() - started:.1f} s")
    statuses = sorted({status for _, _, status in people})
    some = rng.sample([n for n, _, _ in people], min(500, len(people)))
    return Plan(
        base_url=base_url,
        seconds=seconds,
        connections=connections,
        tokens=[t.token for t in seeded.unbuilt if t.member_id not in acted_on],
        refresh=[(t.token, t.etag) for t in seeded.loaded],
        codes=check_codes,
        member_ids=[n for n, _, _ in people],
        searches=[
            f"/members?q={query}"
            for n in some
            for query in (f"Person{n}", f"member{n}%40bench", f"{100000 + n}")
        ],
        list_queries=[
            "/members",
            *(f"/members?page={page}" for page in (2, 3, 10, 50)),
            *(f"/members?status={status}" for status in statuses),
            *(f"/members?branch={branch}" for branch in branch_ids),
            *(f"/members?status=verified&branch={branch}&page=2" for branch in branch_ids[:5]),
        ],
        branch_ids=branch_ids,
        status_member_ids=sorted(acted_on),
    )


def _day(env: dict[str, str], work: Path, plan: Plan, workers: int, port: int) -> Outcome:
    server_log = work / "serve.log"
    reference_plan = Plan(
        base_url="",
        seconds=max(2.0, plan.seconds / 4),
        connections=plan.connections,
        reference=True,
    )
    with (
        uvicorn(
            "server.bench.reference_app:app",
            env,
            "/reference.json",
            work / "reference.log",
            workers=workers,
            pin=False,
        ) as reference_server,
        serve(env, "/login", server_log, workers=workers, port=port, pin=False),
    ):
        reference_plan.base_url = reference_server[0]
        _say("serve is up; the bare route first")
        before = _load(reference_plan, work / "reference-plan.json", work)
        _say("midnight")
        day, nightly, midnight = _the_day(env, plan, work)
        _say("the bare route again")
        after = _load(reference_plan, work / "reference-plan.json", work)
    return Outcome(
        day=day,
        reference=_joined(before, after),
        connections=plan.connections.per_class(),
        log=ServerLog.read(server_log),
        nightly=nightly,
        midnight_seconds=midnight,
    )


def _joined(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    classes = {
        name: {"requests": before["classes"][name]["requests"] + found["requests"]}
        for name, found in after["classes"].items()
    }
    return {"seconds": before["seconds"] + after["seconds"], "classes": classes}


def _start_load(plan: Plan, plan_path: Path, work: Path) -> subprocess.Popen[str]:
    plan.write(plan_path)
    process = subprocess.Popen(
        [sys.executable, "-m", "server.bench.day.load", str(plan_path)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=(work / "load.log").open("ab"),
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if line.strip() != "READY":
        process.kill()
        raise RuntimeError(
            f"the load process did not start: {line}{(work / 'load.log').read_text()[-2000:]}"
        )
    return process


def _go(process: subprocess.Popen[str]) -> None:
    assert process.stdin is not None
    process.stdin.write("GO\n")
    process.stdin.flush()


def _result(process: subprocess.Popen[str], plan: Plan, work: Path) -> dict[str, Any]:
    try:
        output, _ = process.communicate(timeout=plan.seconds + LOAD_GRACE)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise RuntimeError("the load process did not finish in time") from None
    for line in output.splitlines():
        if line.startswith("RESULT "):
            result: dict[str, Any] = json.loads(line[7:])
            return result
    raise RuntimeError(f"the load process printed no result: {(work / 'load.log').read_text()}")


def _load(plan: Plan, plan_path: Path, work: Path) -> dict[str, Any]:
    process = _start_load(plan, plan_path, work)
    _go(process)
    return _result(process, plan, work)


def _the_day(env: dict[str, str], plan: Plan, work: Path) -> tuple[dict[str, Any], Nightly, float]:
    process = _start_load(plan, work / "day-plan.json", work)  # logged in, waiting
    midnight = asyncio.run(_midnight(env["DATABASE_URL"]))
    _go(process)
    began = time.monotonic()
    time.sleep(plan.seconds / 2)
    nightly_log = work / "nightly.log"
    tomorrow = (dt.date.today() + dt.timedelta(days=1)).isoformat()
    nightly_started = time.monotonic()
    with nightly_log.open("ab") as out:
        nightly = subprocess.Popen(
            [sys.executable, "manage.py", "nightly", "--date", tomorrow],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    _say(f"nightly run for {tomorrow} started")
    day = _result(process, plan, work)
    try:
        code: int | None = nightly.wait(timeout=NIGHTLY_TIMEOUT)
    except subprocess.TimeoutExpired:
        nightly.kill()
        nightly.wait()
        code = None
    took = time.monotonic() - nightly_started
    output = nightly_log.read_text(errors="replace")
    _say(f"nightly run exited {code} after {took:.1f} s:\n{output[-1500:].rstrip()}")
    return day, Nightly(code, took, nightly_started - began, output), midnight


async def _midnight(url: str) -> float:
    """Every card payload becomes stale at once, as at midnight; how long it took."""
    engine = make_engine(url)
    try:
        started = time.monotonic()
        async with make_sessionmaker(engine)() as db, db.begin():
            await invalidate(db, None, reason="bench: midnight")
        return time.monotonic() - started
    finally:
        await engine.dispose()


__all__ = ["run_day"]
