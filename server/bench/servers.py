"""Starting the servers under test: real uvicorn, one worker, in its own process."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
SERVER, LOAD = 0, 1  # which of our CPUs each side gets, when there are two or more


def pinned(side: int) -> list[str]:
    """A ``taskset`` prefix giving the server and the load generator a core each.

    On a 2-core machine they would otherwise trade places on both cores, and the
    latency tail measures the scheduler rather than the server. Without ``taskset``
    or a second core, nothing is pinned.
    """
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if len(cpus) < 2 or not shutil.which("taskset"):
        return []
    return ["taskset", "-c", str(cpus[side])]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fetch_status(url: str, headers: dict[str, str] | None = None) -> int:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


@contextlib.contextmanager
def uvicorn(
    app: str,
    env: dict[str, str],
    probe: str,
    log: Path,
    *,
    workers: int = 1,
    pin: bool = True,
) -> Iterator[tuple[str, int]]:
    """Run ``app`` under uvicorn as ``serve`` runs Tessera, without access log
    (``server.bench.served``); once ``probe`` answers, yield its base URL and process id."""
    port = free_port()
    command = [
        *(pinned(SERVER) if pin else []),
        sys.executable,
        "-m",
        "server.bench.served",
        app,
        str(port),
        str(workers),
    ]
    quiet = {**env, "TESSERA_ACCESS_LOG": "false"}  # Tessera's own access log, too
    with _running(app, command, port, quiet, probe, log) as server:
        yield server


@contextlib.contextmanager
def serve(
    env: dict[str, str],
    probe: str,
    log: Path,
    *,
    workers: int = 1,
    port: int | None = None,
    pin: bool = True,
) -> Iterator[tuple[str, int]]:
    """``python manage.py serve`` exactly as a user starts it (access log, background
    jobs and all, as ``env`` says); its output goes to ``log``."""
    port = port or free_port()
    command = [
        *(pinned(SERVER) if pin else []),
        sys.executable,
        "manage.py",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    with _running("manage.py serve", command, port, env, probe, log) as server:
        yield server


@contextlib.contextmanager
def _running(
    name: str, command: list[str], port: int, env: dict[str, str], probe: str, log: Path
) -> Iterator[tuple[str, int]]:
    base = f"http://127.0.0.1:{port}"
    with log.open("ab") as out:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited: {log.read_text()[-2000:]}")
            try:
                fetch_status(base + probe)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{name} did not start in 60 s") from None
                time.sleep(0.1)
        yield base, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
