"""Request counts and latency per route group, kept in plain counters.

A request costs a dictionary increment and a bucket increment (well under a
microsecond); ``/metrics`` turns the counters into Prometheus histograms when it is
scraped. Route groups are few and fixed (``GROUPS``), so the label set stays small
whatever paths clients invent.

With several workers (``serve --workers N``) each worker writes its counters to
``TESSERA_WORKER_METRICS_DIR`` every ``PUBLISH_SECONDS`` and at shutdown, and the
worker that answers a scrape adds up every file: the totals are the server's, not
one worker's, and a worker that stopped keeps its share (counters never go back).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from bisect import bisect_left
from pathlib import Path
from typing import Any

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# First path segment -> route group; everything else is "pages" (the admin and member pages).
GROUPS = {
    "card": "card",
    "sw.js": "card",
    "pwa": "card",
    "check": "check",
    "static": "static",
    "login": "auth",
    "logout": "auth",
    "password-reset": "auth",
    "register": "registration",
    "wallet": "wallet",
    "metrics": "metrics",
    "healthz": "health",
    "readyz": "health",
}
STATUS_CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")
PUBLISH_SECONDS = 5.0
SHARED_DIR_ENV = "TESSERA_WORKER_METRICS_DIR"

Counts = dict[tuple[str, str], int]
# Per group: one count per bucket, then the +Inf bucket, then the sum of durations.
Latency = dict[str, list[float]]


def group_of(path: str) -> str:
    return GROUPS.get(path.split("/", 2)[1] if len(path) > 1 else "", "pages")


class RequestMetrics:
    def __init__(self, shared_dir: Path | None = None) -> None:
        self.counts: Counts = {}
        self.latency: Latency = {}
        self.shared_dir = shared_dir
        self._timer: asyncio.TimerHandle | None = None

    @classmethod
    def from_environment(cls) -> RequestMetrics:
        shared = os.environ.get(SHARED_DIR_ENV)
        return cls(Path(shared) if shared else None)

    def observe(self, path: str, status: int, duration: float) -> None:
        group = group_of(path)
        key = (group, STATUS_CLASSES[status // 100 - 1] if 100 <= status < 600 else "5xx")
        counts = self.counts
        counts[key] = counts.get(key, 0) + 1
        row = self.latency.get(group)
        if row is None:
            row = self.latency[group] = [0.0] * (len(BUCKETS) + 2)
        row[bisect_left(BUCKETS, duration)] += 1
        row[-1] += duration
        if self.shared_dir is not None and self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(PUBLISH_SECONDS, self.publish)

    # -- several workers -------------------------------------------------------------

    def _own_file(self) -> Path:
        assert self.shared_dir is not None
        return self.shared_dir / f"worker-{os.getpid()}.json"

    def publish(self) -> None:
        """Write this worker's counters where the other workers find them."""
        self._timer = None
        if self.shared_dir is None:
            return
        data = {
            "counts": [[g, s, n] for (g, s), n in self.counts.items()],
            "latency": self.latency,
        }
        target = self._own_file()
        temporary = target.with_suffix(".tmp")
        with contextlib.suppress(OSError):
            self.shared_dir.mkdir(parents=True, exist_ok=True)
            temporary.write_text(json.dumps(data))
            os.replace(temporary, target)

    def totals(self) -> tuple[Counts, Latency]:
        """This worker's counters plus every other worker's last published ones."""
        counts: Counts = dict(self.counts)
        latency: Latency = {g: list(row) for g, row in self.latency.items()}
        if self.shared_dir is None or not self.shared_dir.is_dir():
            return counts, latency
        own = self._own_file()
        for path in self.shared_dir.glob("worker-*.json"):
            if path == own:
                continue
            try:
                data: dict[str, Any] = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            for group, status, n in data.get("counts", []):
                counts[(group, status)] = counts.get((group, status), 0) + int(n)
            for group, row in data.get("latency", {}).items():
                mine = latency.setdefault(group, [0.0] * (len(BUCKETS) + 2))
                for i, value in enumerate(row[: len(mine)]):
                    mine[i] += value
        return counts, latency
