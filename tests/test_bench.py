"""``manage.py bench`` and ``bench --day`` run end to end and print their figures (tiny
sizes; no timing asserted)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from server.bench.day.plan import CLASSES
from tests.conftest import PG_ADMIN_URL, missing
from tests.live import run_manage

ROOT = Path(__file__).resolve().parent.parent


def test_bench_prints_a_ratio_per_scenario(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "bench",
            "--members",
            "300",
            "--quick",
            "--seconds",
            "1",
            "--connections",
            "8",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        env={
            "PATH": "/usr/bin:/bin",
            **{k: v for k, v in __import__("os").environ.items()},
            "TESSERA_DATA_DIR": str(tmp_path),
        },
    )
    assert done.returncode == 0, done.stdout + done.stderr
    scenarios = (
        "card json",
        "card json stale",
        "card json 304",
        "card html",
        "check",
        "check printed",
        "check scanner",
    )
    for key in scenarios:
        match = re.search(rf"^{key} ratio (\d+\.\d\d)$", done.stdout, re.M)
        assert match, done.stdout
        assert float(match.group(1)) > 0
        assert re.search(rf"^{key} p99 ms \d+\.\d\d$", done.stdout, re.M)
    for key in ("reference", "card json", "check"):  # the server's CPU time per request
        match = re.search(rf"^{key} cpu us (\d+)$", done.stdout, re.M)
        assert match and int(match.group(1)) > 0, done.stdout
    # The stale cards' rebuilds, in the rebuilder process: CPU spent there, held to 1 ms.
    rebuilt = re.search(
        r"^card json stale rebuilder cpu us (\d+) \(target 1000: (met|missed)\)$", done.stdout, re.M
    )
    assert rebuilt and int(rebuilt.group(1)) > 0, done.stdout
    for key in ("card json", "check"):  # each ratio against the bare route measured beside it
        reference = re.search(rf"^{key} reference req/s (\d+)$", done.stdout, re.M)
        assert reference and int(reference.group(1)) > 0, done.stdout
        assert re.search(rf"^{key} steal pct \d+\.\d$", done.stdout, re.M), done.stdout
    for key in ("card json", "check"):  # manage.py serve as shipped, access log on
        assert re.search(
            rf"^serve {key} ratio \d+\.\d\d \(target 0\.\d\d: (met|missed)\)$", done.stdout, re.M
        ), done.stdout
        assert re.search(rf"^serve {key} p99 ms \d+\.\d\d$", done.stdout, re.M), done.stdout
    for key in ("auth card batch seconds", "nightly expiry seconds"):
        assert re.search(rf"^{key} \d+\.\d\d$", done.stdout, re.M), done.stdout
    assert "(0 errors)" not in done.stdout and "errors)" not in done.stdout


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_day_prints_every_class_and_holds_it_to_the_targets(backend, tmp_path):
    """A tiny day: midnight, every request class at once, a nightly run in the middle,
    against ``manage.py serve``; every class's figures, the server log's counts and the
    nightly run's outcome are printed, and the exit code says whether the targets held."""
    command = [sys.executable, "manage.py", "bench", "--day", "--members", "200"]
    command += ["--seconds", "3", "--connections", "4"]
    if backend == "postgresql":
        if subprocess.run(["pg_isready", "-h", "127.0.0.1"], capture_output=True).returncode:
            missing(f"PostgreSQL is not reachable at {PG_ADMIN_URL}")
        command += ["--postgres", PG_ADMIN_URL]
    done = subprocess.run(
        command,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TESSERA_DATA_DIR": str(tmp_path)},
    )
    out = done.stdout
    assert done.returncode in (0, 1), out + done.stderr
    workers = "2 workers" if backend == "postgresql" else "1 worker"
    assert f"{'PostgreSQL' if backend == 'postgresql' else 'SQLite'}, {workers}" in out, out
    for name in CLASSES:
        requests = re.search(rf"^day {name} req/s (\d+\.\d)$", out, re.M)
        errors = re.search(rf"^day {name} errors (\d+)$", out, re.M)
        assert requests and errors, out
        assert float(requests.group(1)) > 0 or int(errors.group(1)) > 0, out  # it ran
        for figure in ("p50 ms", "p99 ms"):
            assert re.search(rf"^day {name} {figure} \d+\.\d$", out, re.M), out
        assert re.search(rf"^day {name} ratio (\d+\.\d\d|-)$", out, re.M), out
    assert re.search(r"^day status action ratio -$", out, re.M), out  # paced: no reference
    assert re.search(r"^day check ratio \d+\.\d\d$", out, re.M), out
    for line in (
        r"day midnight invalidation seconds \d+\.\d\d",
        r"day nightly exit (-|\d+)",
        r"day nightly seconds \d+\.\d",
        r"day server log database is locked \d+",
        r"day server log 5xx \d+",
    ):
        assert re.search(rf"^{line}$", out, re.M), out
    missed = re.findall(r"^target missed: ", out, re.M)
    if done.returncode == 0:
        assert "all targets met" in out and not missed, out
    else:
        assert missed and f"{len(missed)} targets missed" in out, out


def test_quick_makes_the_day_short_too():
    """``bench --day --quick`` once seeded 100,000 members and drove a 60 s day: the flag
    said "about a minute in all" and the day ignored it."""
    import server.bench.command  # noqa: F401  (registers ``bench``)
    from server.bench.day.run import MEMBERS, QUICK_MEMBERS, QUICK_SECONDS, SECONDS, sizes
    from server.cli import build_parser

    parser = build_parser()
    quick = parser.parse_args(["bench", "--day", "--quick"])
    assert sizes(quick) == (QUICK_MEMBERS, QUICK_SECONDS)
    assert QUICK_MEMBERS < MEMBERS and QUICK_SECONDS < SECONDS
    assert sizes(parser.parse_args(["bench", "--day"])) == (MEMBERS, SECONDS)
    given = parser.parse_args(["bench", "--day", "--quick", "--members", "500"])
    assert sizes(given)[0] == 500


def test_a_postgresql_url_it_cannot_use_is_named_before_any_seeding(tmp_path):
    """``--postgres`` naming a database that does not exist once seeded 100,000 members
    for a minute, then said "The PostgreSQL database '…/tessera.sqlite3' does not exist"
    (the environment's DATABASE_URL, not the URL given)."""
    given = make_url(PG_ADMIN_URL).set(password="hunter2", database="no_such_tessera_db")
    env = {**os.environ, "TESSERA_DATA_DIR": str(tmp_path)}
    done = run_manage(
        env, "bench", "--day", "--postgres", given.render_as_string(False), timeout=60
    )
    assert done.returncode == 2, done.stdout + done.stderr
    first = done.stdout.splitlines()[0]
    assert "no_such_tessera_db" in first and "does not exist" in first, done.stdout
    assert "hunter2" not in done.stdout + done.stderr and "seeded" not in done.stdout
    assert "sqlite" not in done.stdout + done.stderr
