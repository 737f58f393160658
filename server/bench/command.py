"""``python manage.py bench``: seed a register, serve it, load it, print the figures."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import secrets
import tempfile
import time
from pathlib import Path

from server.bench import load
from server.bench.registry import FIGURES, Target, scenarios
from server.bench.seed import seed
from server.bench.servers import SERVER, cpu_seconds, fetch_status, pinned, uvicorn
from server.cli import argument, command
from server.config import load_settings

# How many distinct cards the load generator asks for (chosen at random from the
# register; their payloads are built up front, as a running server would have them).
LOADED_CARDS = 10_000
QUICK_LOADED_CARDS = 2_000


def _say(text: str) -> None:
    print(text, flush=True)


def _measure(
    server: tuple[str, int],
    lines: list[tuple[str, str]],
    args: argparse.Namespace,
    work: Path,
    name: str,
) -> load.Measurement:
    base, pid = server
    targets = work / f"{name.replace(' ', '-')}.txt"
    load.write_targets(targets, lines)
    load.run(base, targets, connections=args.connections, seconds=args.warmup, workdir=work)
    cpu_before = cpu_seconds(pid)
    result = load.run(
        base, targets, connections=args.connections, seconds=args.seconds, workdir=work
    )
    cpu_us = (cpu_seconds(pid) - cpu_before) / max(1, result.requests) * 1e6
    targets.unlink()
    return dataclasses.replace(result, server_cpu_us=cpu_us)


def _row(label: str, m: load.Measurement, reference: float) -> str:
    ratio = m.rps / reference if reference else 0.0
    errors = f"  ({m.errors} errors)" if m.errors else ""
    return (
        f"{label:<22}{m.rps:>10,.0f}{m.p50_ms:>10.2f}{m.p99_ms:>10.2f}{ratio:>8.2f}"
        f"{m.server_cpu_us:>10.0f}{errors}"
    )


@command("bench", "Measure the card hot path against a bare Starlette route (prints figures).")
@argument("--members", type=int, default=100_000, help="Members to seed (default 100000).")
@argument("--quick", action="store_true", help="Short runs: about a minute in all.")
@argument("--connections", type=int, default=64)
@argument("--seconds", type=float, default=None, help="Measured seconds per scenario.")
def bench(args: argparse.Namespace) -> int:
    args.seconds = args.seconds or (6.0 if args.quick else 20.0)
    args.warmup = 2.0 if args.quick else 5.0
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
        loaded = QUICK_LOADED_CARDS if args.quick else LOADED_CARDS
        sample = asyncio.run(seed(load_settings(env), args.members, loaded, _say))
        results: list[tuple[str, str, load.Measurement]] = []
        with uvicorn(
            "server.bench.reference_app:app", env, "/reference.json", work / "ref.log"
        ) as server:
            reference = _measure(server, [("/reference.json", "")], args, work, "reference")
        _say(f"reference measured: {reference.rps:,.0f} req/s")
        with uvicorn("server.asgi:app", env, "/login", work / "app.log") as server:
            base = server[0]
            for item in scenarios():
                path, headers = item.request(sample[0])
                status = fetch_status(base + path, headers)
                if status != item.expect_status:
                    _say(f"{item.label}: expected HTTP {item.expect_status}, got {status}; skipped")
                    continue
                lines = []
                for target in sample:
                    p, h = item.request(target)
                    lines.append((p, h.get("If-None-Match", "")))
                results.append(
                    (item.key, item.label, _measure(server, lines, args, work, item.key))
                )
                _say(f"{item.label} measured: {results[-1][2].rps:,.0f} req/s")
        figures: list[tuple[str, float]] = []
        for timed in FIGURES:
            figures.extend(timed(args.members, args.quick, _say))
        _say("")
        _say(f"{'scenario':<22}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'ratio':>8}{'CPU us':>10}")
        _say(_row("bare Starlette route", reference, reference.rps))
        for _key, label, m in results:
            _say(_row(label, m, reference.rps))
        _say("")
        _say(f"reference req/s {reference.rps:.0f}")
        _say(f"reference cpu us {reference.server_cpu_us:.0f}")
        for key, _label, m in results:
            _say(f"{key} req/s {m.rps:.0f}")
            _say(f"{key} p50 ms {m.p50_ms:.2f}")
            _say(f"{key} p99 ms {m.p99_ms:.2f}")
            _say(f"{key} ratio {m.rps / reference.rps:.2f}")
            _say(f"{key} cpu us {m.server_cpu_us:.0f}")
        for key, seconds in figures:
            _say(f"{key} {seconds:.2f}")
        _say(f"total time {time.monotonic() - started:.0f} s")
    return 0


__all__ = ["Target", "bench"]
