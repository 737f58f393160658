"""The built-in load generator (used when wrk is not installed): keep-alive HTTP/1.1
connections, a random target per request, latency percentiles. Prints one RESULT line."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import time
from pathlib import Path
from urllib.parse import urlsplit


async def _connection(
    host: str,
    port: int,
    targets: list[tuple[str, str]],
    headers: str,
    deadline: float,
    latencies: list[float],
) -> int:
    reader, writer = await asyncio.open_connection(host, port)
    errors = 0
    try:
        while time.monotonic() < deadline:
            path, etag = random.choice(targets)
            extra = headers + (f"If-None-Match: {etag}\r\n" if etag else "")
            started = time.perf_counter()
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}\r\n".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            if length:
                await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if int(head[9:12]) >= 400:
                errors += 1
    finally:
        writer.close()
    return errors


def read_headers() -> str:
    """Headers for every request (``BENCH_HEADERS``: a file of ``Name: value`` lines)."""
    path = os.environ.get("BENCH_HEADERS")
    if not path:
        return ""
    return "".join(line.strip() + "\r\n" for line in Path(path).read_text().splitlines() if line)


def read_targets() -> list[tuple[str, str]]:
    targets = []
    for line in Path(os.environ["BENCH_TARGETS"]).read_text().splitlines():
        path, _, etag = line.strip().partition(" ")
        targets.append((path, etag))
    return targets


async def main(
    url: str, targets: list[tuple[str, str]], headers: str, connections: int, seconds: float
) -> None:
    parts = urlsplit(url)
    latencies: list[float] = []
    started = time.monotonic()
    deadline = started + seconds
    results = await asyncio.gather(
        *(
            _connection(
                parts.hostname or "127.0.0.1",
                parts.port or 80,
                targets,
                headers,
                deadline,
                latencies,
            )
            for _ in range(connections)
        )
    )
    elapsed = time.monotonic() - started
    latencies.sort()

    def pct(p: float) -> int:
        return (
            int(latencies[min(len(latencies) - 1, int(len(latencies) * p))] * 1e6)
            if latencies
            else 0
        )

    print(
        "RESULT "
        + json.dumps(
            {
                "requests": len(latencies),
                "duration_us": int(elapsed * 1e6),
                "p50_us": pct(0.50),
                "p99_us": pct(0.99),
                "errors": sum(results),
            }
        )
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    asyncio.run(main(args.url, read_targets(), read_headers(), args.connections, args.seconds))
