"""``python manage.py bench``: seed a register, serve it, load it, print the figures."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import functools
import secrets
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from server.bench import cpu, load
from server.bench.registry import FIGURES, Scenario, Target, scenarios
from server.bench.seed import Seeded, seed
from server.bench.servers import SERVER, fetch_status, pinned, serve, uvicorn
from server.cli import argument, command, positive_int
from server.config import load_settings

# How many distinct cards the load generator asks for (chosen at random from the
# register; their payloads are built up front, as a running server would have them).
LOADED_CARDS = 10_000
QUICK_LOADED_CARDS = 2_000


def _say(text: str) -> None:
    print(text, flush=True)


SLICES = 4  # a scenario is measured in this many slices, each followed by the reference


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    measured: load.Measurement
    reference: load.Measurement  # the bare route, measured in slices between the scenario's

    @property
    def ratio(self) -> float:
        return self.measured.rps / self.reference.rps if self.reference.rps else 0.0


@dataclass(frozen=True)
class Workload:
    """What the load generator sends: targets, headers on every request, and what to
    do before each slice."""

    targets: Path
    headers: dict[str, str] = dataclasses.field(default_factory=dict)
    before_slice: Callable[[], None] | None = None


def _measure(
    server: tuple[str, int], work: Workload, args: argparse.Namespace, seconds: float
) -> load.Measurement:
    base, pid = server
    if work.before_slice is not None:
        work.before_slice()
    cpu_before, host_before = cpu.process_seconds(pid), cpu.host_ticks()
    children_before = cpu.children_seconds(pid)
    result = load.run(
        base,
        work.targets,
        connections=args.connections,
        seconds=seconds,
        workdir=work.targets.parent,
        headers=work.headers,
    )
    requests = max(1, result.requests)
    cpu_us = (cpu.process_seconds(pid) - cpu_before) / requests * 1e6
    children_us = (cpu.children_seconds(pid) - children_before) / requests * 1e6
    steal = cpu.steal_percent(host_before, cpu.host_ticks())
    return dataclasses.replace(
        result, server_cpu_us=cpu_us, children_cpu_us=children_us, steal_percent=steal
    )


def _combined(parts: list[load.Measurement]) -> load.Measurement:
    """Slices as one figure: rates from the sums, the middle p50, the worst p99."""
    requests = sum(p.requests for p in parts)
    return load.Measurement(
        requests=requests,
        seconds=sum(p.seconds for p in parts),
        p50_ms=statistics.median(p.p50_ms for p in parts),
        p99_ms=max(p.p99_ms for p in parts),
        errors=sum(p.errors for p in parts),
        server_cpu_us=sum(p.server_cpu_us * p.requests for p in parts) / max(1, requests),
        children_cpu_us=sum(p.children_cpu_us * p.requests for p in parts) / max(1, requests),
        steal_percent=statistics.mean(p.steal_percent for p in parts),
    )


def _warm(server: tuple[str, int], work: Workload, args: argparse.Namespace) -> None:
    if work.before_slice is not None:
        work.before_slice()
    load.run(
        server[0],
        work.targets,
        connections=args.connections,
        seconds=args.warmup,
        workdir=work.targets.parent,
        headers=work.headers,
    )


def _paired(
    server: tuple[str, int],
    work: Workload,
    reference_server: tuple[str, int],
    reference: Workload,
    args: argparse.Namespace,
) -> tuple[load.Measurement, load.Measurement]:
    """The scenario and the bare route in alternating slices: the host's load drifts
    during a run, and both sides of the ratio should see the same drift."""
    _warm(server, work, args)
    slices = max(1, min(SLICES, int(args.seconds)))
    measured: list[load.Measurement] = []
    nearby: list[load.Measurement] = []
    for _ in range(slices):
        measured.append(_measure(server, work, args, args.seconds / slices))
        nearby.append(_measure(reference_server, reference, args, args.seconds / slices))
    return _combined(measured), _combined(nearby)


def _workload(item: Scenario, seeded: Seeded, base_url: str, targets: Path) -> Workload | None:
    """The scenario's load against the server at ``base_url``; None (and a line saying
    why) when its first request does not answer as it should."""
    population = seeded.unbuilt if item.population == "unbuilt" else seeded.loaded
    if not population:
        _say(f"{item.label}: no {item.population} cards in this register; skipped")
        return None
    headers = item.session(base_url) if item.session is not None else {}
    path, own = item.request(population[0])
    status = fetch_status(base_url + path, {**headers, **own})
    if status != item.expect_status:
        _say(f"{item.label}: expected HTTP {item.expect_status}, got {status}; skipped")
        return None
    load.write_targets(
        targets,
        [
            (p, h.get("If-None-Match", ""))
            for p, h in (item.request(target) for target in population)
        ],
    )
    before = item.before_slice
    return Workload(
        targets, headers, None if before is None else functools.partial(before, population)
    )


HEADER = (
    f"{'scenario':<22}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'ratio':>8}{'CPU us':>10}"
    f"{'ref req/s':>11}{'steal %':>9}"
)


def _row(label: str, m: load.Measurement, reference: load.Measurement) -> str:
    ratio = m.rps / reference.rps if reference.rps else 0.0
    errors = f"  ({m.errors} errors)" if m.errors else ""
    return (
        f"{label:<22}{m.rps:>10,.0f}{m.p50_ms:>10.2f}{m.p99_ms:>10.2f}{ratio:>8.2f}"
        f"{m.server_cpu_us:>10.0f}{reference.rps:>11,.0f}{m.steal_percent:>9.1f}{errors}"
    )


# ``manage.py serve`` as shipped (access log on) against the bare route: scenario keys
# and the ratio each should reach.
SHIPPED_TARGETS = {"card json": 0.45, "check": 0.35}
# A stale card's rebuild, in the rebuilder process (the serving process's share of the
# request is its ``cpu us``), at most this many µs of CPU a card.
REBUILD_TARGETS = {"card json stale": 1000.0}


@command("bench", "Measure the card hot path against a bare Starlette route (prints figures).")
@argument("--members", type=positive_int, default=None, help="Members to seed (default 100000).")
@argument(
    "--quick",
    action="store_true",
    help="Short runs: about a minute in all (the day: 10,000 members, 15 s).",
)
@argument("--connections", type=positive_int, default=None, help="Default 64 (the day: 16).")
@argument(
    "--seconds",
    type=float,
    default=None,
    help="Measured seconds per scenario (each warmed up as long, 5 s at most; 2 s with --quick).",
)
@argument("--day", action="store_true", help="A real day of mixed traffic instead (README).")
@argument("--postgres", metavar="URL", help="The day on PostgreSQL (a database of its own).")
@argument("--workers", type=positive_int, default=None, help="The day's workers (SQLite 1, PG 2).")
def bench(args: argparse.Namespace) -> int:
    """Each scenario's ratio is taken against the bare route measured in slices between
    the scenario's own (see ``_paired``)."""
    if args.day:
        from server.bench.day.run import run_day

        return run_day(args)
    if args.postgres or args.workers:
        _say("--postgres and --workers belong to the day benchmark (--day).")
        return 2
    args.members = args.members or 100_000
    args.connections = args.connections or 64
    args.seconds = args.seconds or (6.0 if args.quick else 20.0)
    # A warm-up longer than the measurement it precedes only makes a short run long.
    args.warmup = min(2.0 if args.quick else 5.0, args.seconds)
    with tempfile.TemporaryDirectory(prefix="tessera-bench-") as tmp:
        work = Path(tmp)
        url = f"sqlite+aiosqlite:///{work / 'bench.sqlite3'}"
        _say(
            f"bench: {args.members:,} members, {args.connections} connections, "
            f"{args.seconds:.0f} s per scenario, load by {load.tool()}, one uvicorn worker"
            + (", server and load pinned to a core each" if pinned(SERVER) else "")
        )
        env = {
            "DATABASE_URL": url,
            "TESSERA_DATA_DIR": str(work),
            "SECRET_KEY": secrets.token_urlsafe(32),
            "TESSERA_BACKGROUND_JOBS": "false",
        }
        started = time.monotonic()
        # Half the register at most: the stale-card scenario asks for the other half.
        loaded = min(QUICK_LOADED_CARDS if args.quick else LOADED_CARDS, args.members // 2)
        seeded = asyncio.run(seed(load_settings(env), args.members, loaded, _say))
        results: list[Figure] = []
        shipped: list[Figure] = []
        bare = Workload(work / "reference.txt")
        load.write_targets(bare.targets, [("/reference.json", "")])
        with uvicorn(
            "server.bench.reference_app:app", env, "/reference.json", work / "ref.log"
        ) as reference_server:
            _warm(reference_server, bare, args)
            reference = _measure(reference_server, bare, args, args.seconds)
            _say(f"reference measured: {reference.rps:,.0f} req/s")
            # As a user starts it: access log on, background jobs on. First, on the
            # register as it stands between invalidations: after the stale-card scenario
            # the card sweep would spend these slices rebuilding the cards that scenario
            # invalidated, on the server's own core (the pinning holds the whole process
            # tree there) — the midnight sweep is what ``bench --day`` measures.
            as_shipped = {k: v for k, v in env.items() if k != "TESSERA_BACKGROUND_JOBS"}
            with serve(as_shipped, "/login", work / "serve.log") as server:
                for item in scenarios():
                    if item.key in SHIPPED_TARGETS:
                        figure = _figure(item, seeded, server, reference_server, bare, args, work)
                        if figure is not None:
                            shipped.append(figure)
            with uvicorn("server.asgi:app", env, "/login", work / "app.log") as server:
                for item in scenarios():
                    figure = _figure(item, seeded, server, reference_server, bare, args, work)
                    if figure is not None:
                        results.append(figure)
        timed_figures: list[tuple[str, float]] = []
        for timed in FIGURES:
            timed_figures.extend(timed(args.members, args.quick, _say))
        _say("")
        _say(HEADER)
        _say(_row("bare Starlette route", reference, reference))
        for figure in results:
            _say(_row(figure.label, figure.measured, figure.reference))
        for figure in shipped:
            _say(_row(f"{figure.label} [serve]", figure.measured, figure.reference))
        _say("")
        _say(f"reference req/s {reference.rps:.0f}")
        _say(f"reference cpu us {reference.server_cpu_us:.0f}")
        for figure in results:
            key, m = figure.key, figure.measured
            _say(f"{key} req/s {m.rps:.0f}")
            _say(f"{key} p50 ms {m.p50_ms:.2f}")
            _say(f"{key} p99 ms {m.p99_ms:.2f}")
            _say(f"{key} ratio {figure.ratio:.2f}")
            _say(f"{key} cpu us {m.server_cpu_us:.0f}")
            if key in REBUILD_TARGETS:
                target_us = REBUILD_TARGETS[key]
                verdict = "met" if m.children_cpu_us <= target_us else "missed"
                _say(
                    f"{key} rebuilder cpu us {m.children_cpu_us:.0f} "
                    f"(target {target_us:.0f}: {verdict})"
                )
            _say(f"{key} reference req/s {figure.reference.rps:.0f}")
            _say(f"{key} steal pct {m.steal_percent:.1f}")
        for figure in shipped:
            key, m = figure.key, figure.measured
            target = SHIPPED_TARGETS[key]
            verdict = "met" if figure.ratio >= target else "missed"
            _say(f"serve {key} req/s {m.rps:.0f}")
            _say(f"serve {key} p99 ms {m.p99_ms:.2f}")
            _say(f"serve {key} ratio {figure.ratio:.2f} (target {target:.2f}: {verdict})")
        for key, seconds in timed_figures:
            _say(f"{key} {seconds:.2f}")
        _say(f"total time {time.monotonic() - started:.0f} s")
    return 0


def _figure(
    item: Scenario,
    seeded: Seeded,
    server: tuple[str, int],
    reference_server: tuple[str, int],
    bare: Workload,
    args: argparse.Namespace,
    work: Path,
) -> Figure | None:
    workload = _workload(item, seeded, server[0], work / "targets.txt")
    if workload is None:
        return None
    measured, nearby = _paired(server, workload, reference_server, bare, args)
    _say(
        f"{item.label} measured: {measured.rps:,.0f} req/s "
        f"(reference in between: {nearby.rps:,.0f})"
    )
    return Figure(item.key, item.label, measured, nearby)


__all__ = ["Target", "bench"]
