"""The day's figures, the server log's counts, and the targets they are held to."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from server.bench.day.plan import (
    CARD,
    CHECK,
    CLASSES,
    DETAIL,
    LABELS,
    LIST,
    REFRESH,
    SCANNER,
    SEARCH,
)

CARD_AND_CHECK = (CARD, REFRESH, CHECK, SCANNER)
OFFICER_PAGES = (LIST, SEARCH, DETAIL)
CARD_CHECK_P99_MS = 100.0
OFFICER_P99_MS = 500.0

LOCKED = "database is locked"
# Tessera's access log (server.web.access_log): "… INFO tessera.access: GET /path 200 1.2ms"
ACCESS_LINE = re.compile(r"tessera\.access: \S+ \S+ (\d{3}) ")
TRACEBACK = "Traceback (most recent call last)"
EXCERPT = 3  # lines of each kind of trouble shown in the report


@dataclass(frozen=True)
class ServerLog:
    requests: int  # access-log lines (none when the server prints no access log)
    locked: int  # lines saying "database is locked"
    server_errors: int  # access-log lines of a 5xx answer
    tracebacks: int
    excerpt: list[str]  # the first few lines of trouble, for the reader

    @classmethod
    def read(cls, path: Path) -> ServerLog:
        text = path.read_text(errors="replace") if path.exists() else ""
        lines = text.splitlines()
        statuses = [found.group(1) for line in lines if (found := ACCESS_LINE.search(line))]
        locked = [line for line in lines if LOCKED in line]
        failed = [line for line in lines if (f := ACCESS_LINE.search(line)) and f.group(1) >= "500"]
        return cls(
            requests=len(statuses),
            locked=len(locked),
            server_errors=len(failed),
            tracebacks=text.count(TRACEBACK),
            excerpt=[line[:300] for line in locked[:EXCERPT] + failed[:EXCERPT]],
        )


@dataclass(frozen=True)
class Nightly:
    exit_code: int | None  # None: did not finish in time
    seconds: float
    started_after: float  # seconds into the day
    output: str


@dataclass(frozen=True)
class Outcome:
    day: dict[str, Any]  # the load process's RESULT
    reference: dict[str, Any]  # the bare route, the same classes and connections
    connections: dict[str, int]
    log: ServerLog
    nightly: Nightly
    midnight_seconds: float

    def rate(self, name: str) -> float:
        return float(self.day["classes"][name]["requests"]) / float(self.day["seconds"])

    def reference_rate(self, name: str) -> float | None:
        found = self.reference["classes"].get(name)
        if not found or not self.reference["seconds"]:
            return None
        return float(found["requests"]) / float(self.reference["seconds"])

    def ratio(self, name: str) -> float | None:
        reference = self.reference_rate(name)
        return self.rate(name) / reference if reference else None

    def errors(self) -> int:
        return sum(int(c["errors"]) for c in self.day["classes"].values())

    def misses(self) -> list[str]:
        """Every target missed, in words; empty when the day met them all."""
        missed = []
        if self.errors():
            missed.append(f"{self.errors()} requests failed (target 0)")
        if self.log.locked:
            missed.append(f'{self.log.locked} "{LOCKED}" lines in the server log (target 0)')
        if self.log.server_errors:
            missed.append(f"{self.log.server_errors} 5xx answers in the server log (target 0)")
        for names, limit in ((CARD_AND_CHECK, CARD_CHECK_P99_MS), (OFFICER_PAGES, OFFICER_P99_MS)):
            for name in names:
                p99 = float(self.day["classes"][name]["p99_ms"])
                if p99 > limit:
                    missed.append(f"{name} p99 {p99:.0f} ms (target ≤ {limit:.0f} ms)")
        if self.nightly.exit_code != 0:
            missed.append(f"the nightly run exited {self.nightly.exit_code} (target 0)")
        return missed


HEADER = (
    f"{'request class':<36}{'conns':>6}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}"
    f"{'ratio':>7}{'ref req/s':>11}"
)


def lines(outcome: Outcome) -> list[str]:
    """The table, then one ``day <class> <figure> <value>`` line per figure."""
    out = [HEADER]
    for name in CLASSES:
        c = outcome.day["classes"][name]
        ratio, reference = outcome.ratio(name), outcome.reference_rate(name)
        out.append(
            f"{LABELS[name]:<36}{outcome.connections[name]:>6}{outcome.rate(name):>9,.1f}"
            f"{c['p50_ms']:>9.1f}{c['p99_ms']:>9.1f}{c['errors']:>8}"
            + (f"{ratio:>7.2f}{reference:>11,.0f}" if ratio is not None and reference else "")
        )
    out.append("")
    for name in CLASSES:
        c = outcome.day["classes"][name]
        ratio = outcome.ratio(name)
        out.append(f"day {name} req/s {outcome.rate(name):.1f}")
        out.append(f"day {name} p50 ms {c['p50_ms']:.1f}")
        out.append(f"day {name} p99 ms {c['p99_ms']:.1f}")
        out.append(f"day {name} errors {c['errors']}")
        out.append(f"day {name} ratio " + ("-" if ratio is None else f"{ratio:.2f}"))
        out.append(f"day {name} statuses " + " ".join(f"{k}:{v}" for k, v in c["statuses"].items()))
        out.extend(f"day {name} error: {sample}" for sample in c["samples"])
    nightly = outcome.nightly
    out.append(f"day midnight invalidation seconds {outcome.midnight_seconds:.2f}")
    out.append(f"day nightly started after seconds {nightly.started_after:.1f}")
    out.append(f"day nightly exit {'-' if nightly.exit_code is None else nightly.exit_code}")
    out.append(f"day nightly seconds {nightly.seconds:.1f}")
    out.append(f"day server log requests {outcome.log.requests}")
    out.append(f"day server log database is locked {outcome.log.locked}")
    out.append(f"day server log 5xx {outcome.log.server_errors}")
    out.append(f"day server log tracebacks {outcome.log.tracebacks}")
    out.extend(f"day server log: {line}" for line in outcome.log.excerpt)
    load_cpu = 100 * outcome.day["cpu_seconds"] / outcome.day["seconds"]
    out.append(f"day load generator cpu pct {load_cpu:.0f}")
    return out
