"""Driving load from a separate process: wrk with a Lua script choosing a random target
per request, or (without wrk) the built-in asyncio client in ``server.bench.client``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from server.bench.servers import LOAD, pinned

LUA = r"""
local targets = {}
for line in io.lines(os.getenv("BENCH_TARGETS")) do
  local path, etag = line:match("^(%S+)%s?(.*)$")
  targets[#targets + 1] = {path, etag}
end
local extra = nil
if os.getenv("BENCH_HEADERS") then
  extra = {}
  for line in io.lines(os.getenv("BENCH_HEADERS")) do
    local name, value = line:match("^([^:]+):%s*(.*)$")
    if name then extra[name] = value end
  end
end
local counter = 0
function setup(thread) counter = counter + 1; thread:set("seed", counter) end
function init(args) math.randomseed(os.time() * 1000 + seed) end
function request()
  local t = targets[math.random(#targets)]
  if extra then
    local headers = {}
    for name, value in pairs(extra) do headers[name] = value end
    if t[2] ~= "" then headers["If-None-Match"] = t[2] end
    return wrk.format("GET", t[1], headers)
  end
  if t[2] ~= "" then return wrk.format("GET", t[1], {["If-None-Match"] = t[2]}) end
  return wrk.format("GET", t[1])
end
function done(summary, latency, requests)
  io.write(string.format(
    'RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "errors": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    summary.errors.status + summary.errors.connect + summary.errors.read
      + summary.errors.write + summary.errors.timeout))
end
"""


@dataclass(frozen=True)
class Measurement:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    server_cpu_us: float = 0.0  # the server's CPU time per request (user + system)
    children_cpu_us: float = 0.0  # its children's (the card rebuilder's), per request
    steal_percent: float = 0.0  # of all CPU time, taken by the host meanwhile

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def tool() -> str:
    return "wrk" if shutil.which("wrk") else "python"


def write_targets(path: Path, lines: list[tuple[str, str]]) -> None:
    path.write_text("".join(f"{p} {e}".rstrip() + "\n" for p, e in lines))


def _parse(output: str) -> Measurement:
    for line in output.splitlines():
        if line.startswith("RESULT "):
            data = json.loads(line[7:])
            return Measurement(
                data["requests"],
                data["duration_us"] / 1e6,
                data["p50_us"] / 1000,
                data["p99_us"] / 1000,
                data["errors"],
            )
    raise RuntimeError(f"the load generator printed no result:\n{output[-2000:]}")


def run(
    base_url: str,
    targets: Path,
    *,
    connections: int,
    seconds: float,
    workdir: Path,
    headers: dict[str, str] | None = None,
) -> Measurement:
    """``headers`` go with every request (a session cookie, an ``Accept``)."""
    env = {**os.environ, "BENCH_TARGETS": str(targets)}
    if headers:
        extra = workdir / "headers.txt"
        extra.write_text("".join(f"{name}: {value}\n" for name, value in headers.items()))
        env["BENCH_HEADERS"] = str(extra)
    pin = pinned(LOAD)
    if tool() == "wrk":
        script = workdir / "random-target.lua"
        script.write_text(LUA)
        command = [
            *pin,
            "wrk",
            f"-t{1 if pin else min(2, connections)}",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "5s",
            "-s",
            str(script),
            base_url,
        ]
    else:
        command = [
            *pin,
            sys.executable,
            "-m",
            "server.bench.client",
            base_url,
            "--connections",
            str(connections),
            "--seconds",
            str(seconds),
        ]
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=seconds + 60, check=False
    )
    return _parse(done.stdout + done.stderr)
