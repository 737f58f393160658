"""Logs an operator can read (issue 14 item 5, issue 11's access log): one format in every
worker, JSON on request, no personal data, an access log also with several workers."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from server import logs
from server.web.access_log import FLUSH_SECONDS, AccessLog, clean_path
from tests.live import LiveServer, free_port, run_manage

ROOT = Path(__file__).resolve().parent.parent
TEXT_LINE = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (INFO|WARNING|ERROR|DEBUG) [\w.]+: "
)
TOKEN = "Zm9vYmFyYmF6cXV4cXV1eDE"  # 23 characters, card-token shaped


def _record(message: str, *args: object, exc: bool = False) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise ValueError("no member with email jane.doe@example.org")
        except ValueError:
            exc_info = sys.exc_info()
    return logging.LogRecord("tessera.mail", logging.WARNING, __file__, 1, message, args, exc_info)


def test_text_lines_have_time_level_logger_and_no_personal_data():
    line = logs.TextFormatter().format(
        _record("mail to %s failed: /card/%s", "jane.doe@example.org", TOKEN, exc=True)
    )
    first = line.splitlines()[0]
    assert TEXT_LINE.match(first), first
    assert first.endswith("tessera.mail: mail to [email] failed: /card/[redacted]")
    assert "jane.doe" not in line and TOKEN not in line
    assert "ValueError: no member with email [email]" in line  # the traceback too


def test_json_lines_for_log_collectors():
    data = json.loads(
        logs.JsonFormatter().format(_record("reset for %s", "a.b@example.org", exc=True))
    )
    assert data["level"] == "WARNING" and data["logger"] == "tessera.mail"
    assert data["message"] == "reset for [email]"
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", data["time"])
    assert "ValueError" in data["exception"] and "a.b@" not in data["exception"]


def test_the_log_writes_to_standard_error_as_it_is_when_a_line_is_written():
    """A command run in-process (a test's captured stream, later closed) must not leave
    the log writing to a closed file: every line goes to the current ``sys.stderr``."""
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    try:
        assert isinstance(logs.configure(), logs.StandardError)
    finally:
        root.handlers[:] = before
        root.setLevel(level)
    handler = logs.StandardError()
    handler.setFormatter(logs.TextFormatter())
    first, second = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(first):
        handler.emit(_record("first line"))
    first.close()
    with contextlib.redirect_stderr(second):
        handler.emit(_record("second line"))
    assert second.getvalue().rstrip().endswith("tessera.mail: second line")


async def test_access_lines_are_batched_redacted_and_whole():
    written: list[str] = []
    log = AccessLog(written.append)
    for _ in range(3000):
        log.add(1_764_500_000.25, "GET", f"/card/{TOKEN}.json", 200, 0.0012)
    log.add(1_764_500_001.5, "GET", "/check/" + "A" * 110, 200, 0.002)
    log.flush()
    assert all(len(chunk) <= 4000 and chunk.endswith("\n") for chunk in written)
    lines = "".join(written).splitlines()
    assert len(lines) == 3001
    assert (
        lines[0]
        == "2025-11-30T10:53:20.250Z INFO tessera.access: GET /card/[redacted].json 200 1.2ms"
    )
    assert lines[-1].endswith("GET /check/[redacted] 200 2.0ms")


async def test_a_token_in_a_path_of_another_case_is_redacted_too():
    """A card link pasted as ``/Card/<token>`` or ``/CHECK/<code>`` answers 404 (paths are
    case-sensitive), and its token stays out of the log all the same."""
    written: list[str] = []
    log = AccessLog(written.append)
    log.add(1_764_500_000.25, "GET", f"/Card/{TOKEN}", 404, 0.001)
    log.add(1_764_500_000.5, "GET", "/CHECK/" + "A" * 110, 404, 0.001)
    log.add(1_764_500_000.75, "GET", f"/Password-Reset/{TOKEN}", 404, 0.001)
    log.add(1_764_500_001.0, "GET", f"/Wallet/{TOKEN[:22]}/apple.pkpass", 404, 0.001)
    log.flush()
    text = "".join(written)
    assert TOKEN[:22] not in text and "A" * 20 not in text
    assert text.count("[redacted]") == 4


@pytest.mark.parametrize(
    ("path", "logged"),
    [
        ("/check/" + "a" * 20, "/check/[redacted]"),
        ("/check/" + "a" * 19, "/check/" + "a" * 19),  # too short to be a code: a typo
        ("/check/" + "a-_9" * 30 + ".x/card/" + "b" * 9, "/check/[redacted].x/card/[redacted]"),
        ("/card/x_y-z.json", "/card/[redacted].json"),
        ("/card/.json", "/card/.json"),
        ("/card/abc/card/def", "/card/[redacted]/card/[redacted]"),
        (
            "/card/abc/wallet/" + "w" * 22 + "/apple.pkpass",
            "/card/[redacted]/wallet/[redacted]/apple.pkpass",
        ),
        ("/card/é" + "a" * 15, "/card/é" + "a" * 15),
        ("/card/é" + "a" * 20, "/card/é[redacted]"),  # most of a token, a letter typed in
        ("/check/" + "a" * 20 + "%0A", "/check/[redacted]%0A"),
    ],
)
def test_the_hot_paths_are_masked_as_every_other_path(path, logged):
    """Card and check links take a shortcut past the regular expressions: the same mask."""
    assert clean_path(path) == logged


async def test_no_request_path_forges_a_line_or_logs_an_address():
    """A visitor asks for ``/x%0A<a made-up log line>`` or a path with an address in it:
    the access log keeps one line per request, the address masked."""
    forged = "2026-11-30T00:00:00.000Z ERROR tessera.mail: forged"
    written: list[str] = []
    log = AccessLog(written.append)
    log.add(1_764_500_000.0, "GET", f"/x\n{forged}", 404, 0.001)
    log.add(1_764_500_000.0, "GET", "/x\r\u2028y", 404, 0.001)
    log.add(1_764_500_000.0, "GET", "/members/jane.doe@example.org", 404, 0.001)
    log.flush()
    lines = "".join(written).splitlines()
    assert len(lines) == 3 and all(TEXT_LINE.match(line) for line in lines), lines
    assert lines[0].endswith(
        "GET /x%0A2026-11-30T00:00:00.000Z ERROR tessera.mail: forged 404 1.0ms"
    )
    assert lines[1].endswith("GET /x%0D%E2%80%A8y 404 1.0ms")
    assert lines[2].endswith("GET /members/[email] 404 1.0ms")
    json_log = AccessLog(written.append, json_lines=True)
    written.clear()
    json_log.add(1_764_500_000.0, "GET", "/u/jane.doe@example.org", 404, 0.001)
    json_log.flush()
    assert "jane.doe" not in "".join(written)


def test_a_multi_line_message_stays_on_one_line():
    reply = "550-5.1.1 The account does not exist.\n550 5.1.1 Please try again"
    line = logs.TextFormatter().format(_record("mail 7 not sent (failed): SMTP 550: %s", reply))
    assert len(line.splitlines()) == 1 and TEXT_LINE.match(line), line
    assert line.endswith("exist.\\n550 5.1.1 Please try again")


def _get(url: str) -> int:
    try:
        return urllib.request.urlopen(url, timeout=10).status
    except urllib.error.HTTPError as error:
        return error.code


def test_the_served_app_logs_requests_once_in_its_own_format(database_url, tmp_path, sqlite_only):
    server = LiveServer(tmp_path, database_url)
    server.start()
    try:
        assert _get(f"{server.url}/card/{TOKEN}.json") == 404
        for _ in range(5):
            assert _get(f"{server.url}/healthz") == 200
        assert _get(f"{server.url}/readyz") == 200
        assert _get(f"{server.url}/login?next=/me&email=jane@example.org") == 200
    finally:
        server.stop()
    log = server.log()
    access = [line for line in log.splitlines() if "tessera.access" in line]
    assert len(access) == 3, log  # the first /login (start-up probe), the card, the login
    assert any(
        line.endswith(" GET /card/[redacted].json 404 " + line.split()[-1]) for line in access
    )
    assert TOKEN not in log and "jane@example.org" not in log
    assert "/healthz" not in log and "/readyz" not in log
    assert '"GET' not in log  # uvicorn's own access log is off
    for line in log.splitlines():
        if "INFO" in line or "WARNING" in line:
            assert TEXT_LINE.match(line), line


@pytest.mark.parametrize("value", ["false", " Off ", "no", "0"])
def test_the_access_log_flag_reads_as_every_other_flag(database_url, tmp_path, value, sqlite_only):
    """``TESSERA_ACCESS_LOG`` once had a list of its own ("Off " kept the log on) and a
    value that was neither true nor false was taken as true without a word."""
    server = LiveServer(tmp_path, database_url, extra_env={"TESSERA_ACCESS_LOG": value})
    server.start()
    try:
        assert _get(f"{server.url}/card/{TOKEN}.json") == 404
    finally:
        server.stop()
    assert "tessera.access" not in server.log()


def test_two_workers_keep_an_access_log_in_json_and_add_up_their_metrics(
    database_url, tmp_path, sqlite_only
):
    port = free_port()
    env = {
        **os.environ,
        "TESSERA_DATA_DIR": str(tmp_path),
        "DATABASE_URL": database_url,
        "SECRET_KEY": "workers-secret-" + "w" * 32,
        "TESSERA_BACKGROUND_JOBS": "false",
        "TESSERA_LOG_FORMAT": "json",
    }
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "serve", "--port", str(port), "--workers", "2"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if _get(f"{url}/healthz") == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline and process.poll() is None, log_path.read_text()
            time.sleep(0.2)
        for _ in range(20):
            assert _get(f"{url}/login") == 200
        time.sleep(6)  # workers publish their counters every 5 s
        metrics = urllib.request.urlopen(f"{url}/metrics", timeout=10).read().decode()
    finally:
        process.terminate()
        process.wait(timeout=30)
    served = re.search(
        r'^tessera_http_requests_total\{group="auth",status="2xx"\} (\S+)$', metrics, re.M
    )
    assert served and float(served.group(1)) == 20
    records = [
        json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")
    ]
    access = [r for r in records if r["logger"] == "tessera.access"]
    assert len(access) == 20 and {r["path"] for r in access} == {"/login"}
    assert all(
        r["status"] == 200 and r["duration_ms"] > 0 and r["time"].endswith("Z") for r in access
    )
    assert {r["logger"] for r in records} >= {"tessera.access", "uvicorn.error"}
    started = [r for r in records if "Started server process" in r["message"]]
    assert len(started) == 2  # both workers log through the same setup


async def test_nightly_job_summaries_reach_the_log(app, log_lines):
    import datetime as dt

    from server.nightly.runner import run_nightly

    await run_nightly(app.state.sessionmaker, dt.date(2031, 1, 6))
    text = log_lines.getvalue()
    assert re.search(
        r"INFO tessera\.nightly: nightly staff_sync for 2031-01-06: staff granted", text
    )
    assert "nightly retention for 2031-01-06: older than 400 days deleted" in text


async def test_an_unexpected_error_is_logged_once_under_uvicorn(settings, log_lines, sqlite_only):
    """A request that hits a bug: the log shows its traceback once, under Tessera's line
    naming the request (uvicorn used to log the same traceback again)."""
    import asyncio

    import httpx
    import uvicorn
    from starlette.routing import Route

    from server.app import create_app

    async def broken(request):
        raise KeyError("a bug")

    app = create_app(settings)
    app.router.routes.insert(0, Route("/broken", broken))
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    )
    serving = asyncio.create_task(server.serve())
    try:
        async with httpx.AsyncClient(
            transport=httpx.AsyncHTTPTransport(retries=50)  # connect retries while it starts
        ) as client:
            answer = await client.get(f"http://127.0.0.1:{port}/broken")
        assert answer.status_code == 500
        assert "could not finish this request" in answer.text
    finally:
        server.should_exit = True
        await serving
    written = log_lines.getvalue()
    assert written.count("Traceback (most recent call last)") == 1, written
    assert "ERROR tessera: unhandled error on GET /broken" in written
    assert "Exception in ASGI application" not in written


def _migrate_with(tmp_path, **variables: str) -> subprocess.CompletedProcess[str]:
    """``manage.py migrate`` on a new data dir with ``variables`` set."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env |= {"TESSERA_DATA_DIR": str(tmp_path), **variables}
    return run_manage(env, "migrate")


def test_a_log_level_that_is_no_level_is_said_not_ignored(tmp_path):
    done = _migrate_with(tmp_path, TESSERA_LOG_LEVEL="verbose")
    assert done.returncode == 0, done.stderr
    [line] = [line for line in done.stderr.splitlines() if "TESSERA_LOG_LEVEL" in line]
    assert TEXT_LINE.match(line) and "WARNING tessera: TESSERA_LOG_LEVEL is 'verbose': use" in line
    assert "logging at INFO" in line


def test_a_log_format_that_is_no_format_is_said_not_ignored(tmp_path):
    """A collector set up for JSON, and a typo in the variable (``jsonl``): the lines
    come as text, and the first of them says why."""
    done = _migrate_with(tmp_path, TESSERA_LOG_FORMAT="jsonl")
    assert done.returncode == 0, done.stderr
    [line] = [line for line in done.stderr.splitlines() if "TESSERA_LOG_FORMAT" in line]
    assert TEXT_LINE.match(line), line
    assert "WARNING tessera: TESSERA_LOG_FORMAT is 'jsonl': use text or json" in line


async def test_a_live_token_behind_an_extra_slash_stays_out_of_the_access_log(
    app, client, db, settings, capsys
):
    """A card link or check code that reached the server as ``/card//<token>``,
    ``/card/%2F<token>``, ``/card/./<token>`` or ``/check/x/<code>`` (a link mangled in a
    forward, a scanner or a script that joins paths carelessly): the token came right
    after a slash or a dot rather than after ``/card/``, and the access log wrote the live
    token, or the member's genuine code, whole. Every token-long run past those words is
    masked now."""
    from tests.card_fixtures import issued_token
    from tests.check_fixtures import code_for, make_verified

    member = await make_verified(db)
    token = await issued_token(db, settings, member)
    code = code_for(app, member)
    paths = [
        f"/card//{token}",
        f"/card/%2F{token}.json",
        f"/card/./{token}",
        f"/wallet//{token}/apple.pkpass",
        f"/password-reset//{'r' * 43}",
        f"/check//{code}",
        f"/check/x/{code}",
    ]
    for path in paths:
        assert (await client.get(path)).status_code in (200, 400, 404)
    await asyncio.sleep(FLUSH_SECONDS + 0.2)
    access = [line for line in capsys.readouterr().err.splitlines() if "tessera.access" in line]
    assert len(access) == len(paths), access
    assert not [line for line in access if token in line or code[:20] in line or "r" * 20 in line]
    assert all("[redacted]" in line for line in access)
    assert clean_path("/check/scan/manifest.webmanifest") == "/check/scan/manifest.webmanifest"
    assert clean_path("/check/" + "a" * 19) == "/check/" + "a" * 19  # a typo, no code
