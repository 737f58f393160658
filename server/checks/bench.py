"""``python manage.py bench-check``: the live check page under load, against a bare route.

Seeds a temporary SQLite register, signs a code for each of the members the load asks
for (distinct codes, so no cache helps), starts the real app and a bare Starlette JSON
route under uvicorn (one worker, no access log), and drives each with ``wrk`` (a Lua
script picks a random path per request). Prints req/s, p50/p99 and the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import secrets
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from server.checks import codes, keyring
from server.cli import argument, command
from server.migrate import upgrade

ROOT = Path(__file__).resolve().parent.parent.parent
REFERENCE_APP = """
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

async def reference(request):
    return JSONResponse({"ok": True, "path": request.url.path})

app = Starlette(routes=[Route("/reference.json", reference)])
"""
LUA = r"""
local paths = {}
for line in io.lines(os.getenv("BENCH_PATHS")) do paths[#paths + 1] = line end
local n = 0
function setup(thread) n = n + 1; thread:set("seed", n) end
function init(args) math.randomseed(os.time() * 1000 + seed) end
function request() return wrk.format("GET", paths[math.random(#paths)]) end
function done(summary, latency, requests)
  io.write(string.format('RESULT {"requests": %d, "us": %d, "p50": %d, "p99": %d, "errors": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    summary.errors.status + summary.errors.connect + summary.errors.read
      + summary.errors.write + summary.errors.timeout))
end
"""
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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _serve(
    app: str, env: dict[str, str], probe: str, log: Path
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                app,
                "--port",
                str(port),
                "--no-access-log",
                "--log-level",
                "warning",
            ],
            cwd=env.get("PYTHONPATH", str(ROOT)).split(os.pathsep)[0],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    urllib.request.urlopen(base + probe, timeout=2).read()
                    break
                except urllib.error.HTTPError:
                    break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(
                            f"{app} did not start: {log.read_text()[-500:]}"
                        ) from None
                    time.sleep(0.1)
            yield base, process
        finally:
            process.terminate()
            process.wait(timeout=10)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux), to compare cost per request."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _load(
    base: str,
    paths: Path,
    args: argparse.Namespace,
    script: Path,
    seconds: int,
    pid: int,
) -> dict[str, float]:
    cpu_before = _cpu_seconds(pid)
    command_line = [
        "wrk",
        "-t2",
        f"-c{args.connections}",
        f"-d{seconds}s",
        "--latency",
        "-s",
        str(script),
        base,
    ]
    out = subprocess.run(
        command_line,
        env={**os.environ, "BENCH_PATHS": str(paths)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("RESULT "))
    data = json.loads(line[7:])
    cpu = _cpu_seconds(pid) - cpu_before
    return {
        "cpu_us": cpu / max(1, data["requests"]) * 1e6,
        "rps": data["requests"] / (data["us"] / 1e6),
        "p50": data["p50"] / 1000,
        "p99": data["p99"] / 1000,
        "errors": data["errors"],
    }


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
        paths.write_text("".join(f"/check/{codes.mobile_code(ring, p, now)}\n" for p in chosen))
        (work / "reference_app.py").write_text(REFERENCE_APP)
        (work / "ref.txt").write_text("/reference.json\n")
        script = work / "bench.lua"
        script.write_text(LUA)
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite+aiosqlite:///{database}",
            "TESSERA_DATA_DIR": str(work),
            "SECRET_KEY": secrets.token_urlsafe(32),
            "TESSERA_BACKGROUND_JOBS": "false",
        }
        print(
            f"bench-check: {args.members:,} members, {len(chosen):,} distinct codes, "
            f"{args.connections} connections, {args.seconds} s each, one uvicorn worker"
        )
        with _serve(
            "reference_app:app",
            {**env, "PYTHONPATH": str(work)},
            "/reference.json",
            work / "ref.log",
        ) as (base, process):
            _load(base, work / "ref.txt", args, script, 2, process.pid)  # warm-up
            reference = _load(base, work / "ref.txt", args, script, args.seconds, process.pid)
        with _serve(
            "server.asgi:app", {**env, "PYTHONPATH": str(ROOT)}, "/login", work / "app.log"
        ) as (base, process):
            _load(base, paths, args, script, 2, process.pid)  # warm-up
            check = _load(base, paths, args, script, args.seconds, process.pid)
            time.sleep(0.5)  # the check log is written a moment after each check
            entries = (
                sqlite3.connect(database).execute("SELECT count(*) FROM check_log").fetchone()[0]
            )
        for name, m in (("reference", reference), ("check", check)):
            print(
                f"{name} req/s {m['rps']:.0f}  p50 ms {m['p50']:.2f}  p99 ms {m['p99']:.2f}"
                f"  server CPU us/request {m['cpu_us']:.0f}  errors {m['errors']}"
            )
        print(f"check ratio {check['rps'] / reference['rps']:.2f}")
        print(f"check CPU ratio {reference['cpu_us'] / check['cpu_us']:.2f}")
        print(f"check log rows written {entries:,}")
    return 0
