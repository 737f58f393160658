"""A real server in a subprocess (``manage.py serve``) and headless Chromium (Playwright)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def run_manage(
    env: dict[str, str], *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``python manage.py ARGS`` from the repository, with ``env``; output as text."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_manage_each(
    *runs: tuple[dict[str, str], list[str]], timeout: float = 120
) -> list[subprocess.CompletedProcess[str]]:
    """``python manage.py ARGS`` with ``env`` for each ``(env, ARGS)``, one after another
    in one process (``tests.manage_runs``): for tests whose point is each command's
    answer, not its process starting. Results as ``run_manage`` gives them, in order."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.manage_runs"],
        cwd=ROOT,
        env=runs[0][0],
        input=json.dumps([{"env": env, "args": list(args)} for env, args in runs]),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise AssertionError(f"tests.manage_runs failed: {done.stdout}{done.stderr}")
    return [
        subprocess.CompletedProcess(["manage.py", *args], r["returncode"], r["stdout"], r["stderr"])
        for (_, args), r in zip(runs, json.loads(done.stdout), strict=True)
    ]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """``python manage.py serve`` on a free loopback port, as a user starts it (uvicorn
    with Tessera's protocol and logging; background jobs as the environment says, off
    unless a test asks); stop and start again."""

    def __init__(
        self,
        data_dir: Path,
        database_url: str,
        extra_env: dict[str, str] | None = None,
        root: Path = ROOT,
    ):
        self.root = root  # the release it serves: a copy of the app stands for another deploy
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = data_dir / "server.log"
        self.env = {
            **os.environ,
            "TESSERA_DATA_DIR": str(data_dir),
            "DATABASE_URL": database_url,
            "SECRET_KEY": "live-test-secret-" + "y" * 32,
            "BASE_URL": self.url,
            "TESSERA_BACKGROUND_JOBS": "false",
            **(extra_env or {}),
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log_path.open("ab") as log:  # the server writes to its own copy
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "manage.py",
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                ],
                cwd=self.root,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-2000:]}")
            try:
                urllib.request.urlopen(self.url + "/login", timeout=1).read()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("server did not start in 20 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""


def raw_head(port: int, request: bytes) -> str:
    """The head of the server's answer to ``request`` sent as it is, lower-cased."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(request)
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = conn.recv(4096)
            if not chunk:
                break
            received += chunk
    return received.split(b"\r\n\r\n", 1)[0].decode("latin-1").lower()
