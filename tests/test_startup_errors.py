"""Start-up errors say what is wrong and what to do in two lines (issue 14 item 6)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import PG_ADMIN_URL, missing
from tests.live import free_port, run_manage

ROOT = Path(__file__).resolve().parent.parent


def _serve(tmp_path: Path, database_url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env |= {"TESSERA_DATA_DIR": str(tmp_path / "data"), "DATABASE_URL": database_url}
    return _manage(env, *extra, "serve", "--port", str(free_port()))


def _serve_on_a_taken_port(
    tmp_path: Path, variables: dict[str, str]
) -> tuple[int, subprocess.CompletedProcess[str]]:
    """``manage.py serve`` (with ``variables`` set) on a port another socket holds: it
    stops at the port check, after its warnings."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        env |= {"TESSERA_DATA_DIR": str(tmp_path / "data"), **variables}
        return port, _manage(env, "serve", "--port", str(port))


def _manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run_manage(env, *args, timeout=60)


CASES = {
    "bad scheme": ("mysql://tessera@localhost/tessera", "uses 'mysql', which Tessera cannot use"),
    "not a url": ("tessera.sqlite3", "DATABASE_URL is not a database URL"),
    "postgresql unreachable": (
        f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/tessera",
        "connection refused",
    ),
    "postgresql database missing": (
        "postgresql+asyncpg://postgres@127.0.0.1:5432/no_such_tessera_db",
        "database 'no_such_tessera_db' does not exist",
    ),
    "sqlite in a missing folder": (
        "sqlite+aiosqlite:////nonexistent-folder/tessera/tessera.sqlite3",
        "the folder /nonexistent-folder/tessera does not exist",
    ),
    # Once "Tessera could not start: ValueError: could not convert string to float".
    "sqlite timeout that is no number": (
        "sqlite:///tessera.sqlite3?timeout=soon",
        "?timeout= takes a number of seconds, not 'soon'",
    ),
    "an ssl mode asyncpg does not know": (
        "postgresql://postgres@127.0.0.1:5432/test?sslmode=on",
        "?ssl= (or ?sslmode=) is 'on'; use one of disable",
    ),
    # Once "TypeError: connect() got an unexpected keyword argument 'application_name'".
    "postgresql option asyncpg does not take": (
        "postgresql://postgres@127.0.0.1:5432/test?application_name=tessera",
        "?application_name= is not an option of Tessera's PostgreSQL driver",
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_two_lines_and_exit_1(case, tmp_path):
    url, expected = CASES[case]
    done = _serve(tmp_path, url)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert 1 <= len(lines) <= 2, done.stderr
    assert expected in done.stderr
    assert "Traceback" not in done.stderr
    assert "Fix it" in done.stderr or "DATABASE_URL" in done.stderr  # what to do


def test_a_postgresql_without_the_ssl_asked_for_is_named(tmp_path):
    """Once "Tessera could not start: ConnectionError: … rejected SSL upgrade"."""
    import asyncio

    import asyncpg

    async def ssl_is_on() -> bool:
        connection = await asyncpg.connect(PG_ADMIN_URL)
        try:
            return bool(await connection.fetchval("SHOW ssl") == "on")
        finally:
            await connection.close()

    try:
        if asyncio.run(ssl_is_on()):
            pytest.skip("the test PostgreSQL offers SSL")
    except OSError as exc:
        missing(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {exc}")
    url = PG_ADMIN_URL + ("&" if "?" in PG_ADMIN_URL else "?") + "sslmode=require"
    done = _serve(tmp_path, url)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 2, done.stderr
    assert "does not offer SSL, which DATABASE_URL asks for" in lines[0]
    assert "sslmode=prefer" in lines[1]


BAD_SETTINGS = {
    "BASE_URL without a scheme": (
        {"BASE_URL": "members.example.org"},
        "BASE_URL is 'members.example.org': it must be the server's public address",
    ),
    "BASE_URL of another scheme": ({"BASE_URL": "ftp://members.example.org"}, "BASE_URL is"),
    "a flag that is neither": (
        {"TESSERA_BACKGROUND_JOBS": "maybe"},
        "TESSERA_BACKGROUND_JOBS is 'maybe': use true or false",
    ),
    "an access log flag that is neither": (
        {"TESSERA_ACCESS_LOG": "maybe"},
        "TESSERA_ACCESS_LOG is 'maybe': use true or false",
    ),
    "a sender that is no address": (
        {"MAIL_FROM": "Tessera members"},
        "MAIL_FROM is 'Tessera members': it must be an email address",
    ),
    "a sender with a second header": (
        {"MAIL_FROM": "club@example.org\nBcc: all@example.org"},
        "MAIL_FROM is 'club@example.org\\nBcc: all@example.org': it must be an email address",
    ),
    "an unknown rebuilder": ({"CARD_REBUILDER": "gpu"}, "CARD_REBUILDER is 'gpu': use process"),
    "a data dir that cannot be made": (
        {"TESSERA_DATA_DIR": "/proc/no-such/tessera"},
        "TESSERA_DATA_DIR: cannot make the folder /proc/no-such/tessera",
    ),
    "half a wallet": (
        {"WALLET_APPLE_PASS_TYPE_ID": "pass.org.example.members"},
        "Apple Wallet is half configured",
    ),
}


@pytest.mark.parametrize("case", BAD_SETTINGS)
def test_a_setting_tessera_cannot_use_is_named_in_two_lines(case, tmp_path):
    """Every command stops at once, naming the variable, what it holds and what it takes
    (not 'Tessera could not start: ValueError: ...', nor a server that starts and mails
    broken links)."""
    variables, expected = BAD_SETTINGS[case]
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL" and "WALLET_" not in k}
    env |= {"TESSERA_DATA_DIR": str(tmp_path / "data"), **variables}
    for command in (["serve", "--port", str(free_port())], ["migrate"]):
        done = _manage(env, *command)
        assert done.returncode == 1, done.stdout
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 2, done.stderr
        assert expected in lines[0], done.stderr
        assert "could not start" not in done.stderr and "--debug" not in done.stderr
        assert lines[1].startswith("Fix "), done.stderr


def test_debug_shows_the_traceback(tmp_path):
    done = _serve(tmp_path, "mysql://tessera@localhost/tessera", "--debug")
    assert done.returncode == 1
    assert "Traceback (most recent call last)" in done.stderr


def test_a_port_in_use_is_two_lines_and_exit_1(tmp_path):
    """uvicorn started the app, printed "listening", logged the bind error and exited 3."""

    port, done = _serve_on_a_taken_port(tmp_path, {})
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 2 and f"Port {port} on 127.0.0.1 is already in use" in lines[0]
    assert "--port" in lines[1]
    assert "listening" not in done.stdout and "Traceback" not in done.stderr


def test_a_full_disk_is_named_as_such(tmp_path, monkeypatch):
    """SQLite on a full disk says "database or disk is full" (or "disk I/O error" when the
    write-ahead log cannot grow); the operator is told the disk is full, and where."""
    import errno
    import shutil
    import sqlite3
    from collections import namedtuple

    from sqlalchemy import exc as sa_exc

    from server.startup_errors import explain

    url = f"sqlite+aiosqlite:///{tmp_path}/tessera.sqlite3"
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(1 << 30, 1 << 30, 4096))
    for error in (
        sa_exc.OperationalError("PRAGMA", {}, sqlite3.OperationalError("database or disk is full")),
        sa_exc.OperationalError("PRAGMA", {}, sqlite3.OperationalError("disk I/O error")),
        OSError(errno.ENOSPC, "No space left on device"),
    ):
        lines = explain(error, url).splitlines()
        assert len(lines) == 2, lines
        assert (
            lines[0]
            == f"The disk holding {tmp_path} is full (4 KB free): nothing could be written."
        )
        assert "Free some space" in lines[1]
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(1 << 30, 0, 1 << 30))
    error = sa_exc.OperationalError("PRAGMA", {}, sqlite3.OperationalError("disk I/O error"))
    assert "disk I/O error" in explain(error, url) and "read-only" in explain(error, url)


def test_a_schema_migrated_by_a_newer_version_is_named_as_such(tmp_path, sqlite_only):
    """After a rollback of the code: neither "run migrate" (serve) nor Alembic's
    "Can't locate revision" (migrate), but what happened and what to do."""
    import sqlite3

    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env |= {"TESSERA_DATA_DIR": str(tmp_path / "data")}

    def manage(*args: str) -> subprocess.CompletedProcess[str]:
        return _manage(env, *args)

    assert manage("migrate").returncode == 0
    with sqlite3.connect(tmp_path / "data" / "tessera.sqlite3") as connection:
        connection.execute("INSERT INTO alembic_version (version_num) VALUES ('9999_future')")
    for args in (("migrate",), ("serve", "--port", str(free_port()))):
        done = manage(*args)
        assert done.returncode == 1, done.stdout + done.stderr
        said = (done.stdout + done.stderr).strip().splitlines()
        assert said[0].startswith("The database schema is newer than this version"), said
        assert "9999_future" in said[0] and len(said) == 2 and "Traceback" not in done.stderr


def test_a_schema_behind_the_code_stops_serve_with_what_to_do(tmp_path, sqlite_only):
    """An upgrade installed without ``migrate``: two lines on standard error (where every
    other start-up error goes, and what a service manager shows), exit 1."""
    import sqlite3

    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env |= {"TESSERA_DATA_DIR": str(tmp_path / "data")}
    assert _manage(env, "migrate").returncode == 0
    with sqlite3.connect(tmp_path / "data" / "tessera.sqlite3") as connection:
        connection.execute(
            "DELETE FROM alembic_version WHERE version_num = "
            "(SELECT max(version_num) FROM alembic_version)"
        )
    done = _manage(env, "serve", "--port", str(free_port()))
    assert done.returncode == 1, done.stdout + done.stderr
    said = done.stderr.strip().splitlines()
    assert len(said) == 2 and "older than this version" in said[0], said
    assert "python manage.py migrate" in said[1] and "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "smtp_url",
    [
        "smtp:/mail.example.org",
        "smtp://mail.example.org:abc",
        "http://u:hunter2@x",
        # An option mistyped or a CA file that is not there: mail never went out, each
        # round logged as "SMTP server unreachable".
        "smtp://u:hunter2@mail.example.org?starttls=requried",
        "smtp://u:hunter2@mail.example.org?startls=require",
        "smtps://u:hunter2@mail.example.org?cafile=/nonexistent/ca.pem",
    ],
)
def test_an_unusable_smtp_url_stops_serve_and_send_mail_at_once(tmp_path, smtp_url):
    """Before: serve started, answered /readyz 200 and logged a 20-line traceback every
    5 s while no mail went out. The password in the URL is never repeated."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env |= {"TESSERA_DATA_DIR": str(tmp_path / "data"), "SMTP_URL": smtp_url}
    for args in (("serve", "--port", str(free_port())), ("send-mail",)):
        done = _manage(env, *args)
        assert done.returncode == 1, done.stdout + done.stderr
        lines = done.stderr.strip().splitlines()
        assert lines[0].startswith("SMTP_URL must look like smtp://"), done.stderr
        assert len(lines) == 2 and "Fix SMTP_URL" in lines[1], done.stderr
        assert "hunter2" not in done.stdout + done.stderr and "listening" not in done.stdout


def test_serve_on_an_ipv6_address_prints_an_address_a_browser_opens(tmp_path):
    """``serve --host ::1`` said "listening on http://::1:PORT/", which no browser opens.
    Without a BASE_URL, links (mail, the demo's card link) point where it listens."""
    import urllib.request

    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("this machine has no IPv6 loopback")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "BASE_URL")}
    env |= {"TESSERA_DATA_DIR": str(tmp_path / "data"), "TESSERA_BACKGROUND_JOBS": "false"}
    server = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--host", "::1", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert server.stdout is not None
        line = ""
        while "listening on " not in line:
            line = server.stdout.readline()
            assert line, "serve printed no address"
        url = line.split("listening on ", 1)[1].split()[0]
        assert url == f"http://[::1]:{port}/", line
        assert f"(BASE_URL http://[::1]:{port})" in line
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(url + "healthz", timeout=2) as answer:
                    assert answer.status == 200
                    break
            except OSError:
                assert time.monotonic() < deadline, "serve did not answer at the printed address"
                time.sleep(0.2)
    finally:
        server.terminate()
        server.communicate(timeout=30)


def test_serve_warns_about_a_short_secret_key(tmp_path):
    _port, done = _serve_on_a_taken_port(tmp_path, {"SECRET_KEY": "changeme"})
    assert "Warning: SECRET_KEY is only 8 characters" in done.stderr
    assert "changeme" not in done.stderr + done.stdout


@pytest.mark.parametrize("base_url", ["http://members.example.org", "https://members.example.org"])
def test_serve_warns_when_apple_wallet_has_no_https_web_service(tmp_path, base_url):
    """Apple requires the pass's webServiceURL (BASE_URL/wallet/apple) to be https:
    an iPhone refuses the pass otherwise. serve says so at start."""
    from tests.wallet_fixtures import make_credentials

    credentials = make_credentials(tmp_path / "wallet")
    _port, done = _serve_on_a_taken_port(
        tmp_path, {"BASE_URL": base_url, **credentials.apple_env()}
    )
    warned = "Apple Wallet is configured but BASE_URL (http://members.example.org) is not https"
    assert (warned in done.stderr) == base_url.startswith("http:"), done.stderr


def test_a_command_that_finds_the_database_busy_says_so(database_url, tmp_path, sqlite_only):
    """Another process holds the write lock longer than a command waits: once "Tessera
    could not start: OperationalError: … database is locked" (it had started)."""
    import sqlite3

    from server.db.target import DatabaseTarget

    path = DatabaseTarget.parse(database_url).sqlite_path
    assert path is not None
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env |= {
        "TESSERA_DATA_DIR": str(tmp_path / "data"),
        "DATABASE_URL": database_url + "?timeout=0.2",
    }
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # an import, a restore, another command …
        done = _manage(env, "create-admin", "busy@example.org", "--password", "a long password 1")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 2, done.stderr
    assert "stayed busy" in lines[0] and "Run the command again" in lines[1]


@pytest.mark.parametrize("key_file", ["secret_key", "check_keys.json"])
def test_a_key_file_other_users_may_read_is_made_private_at_start(tmp_path, key_file):
    """An operator copies the keys by hand (README: "copy it (mode 0600)") and forgets
    the mode: serve started and signed sessions and check codes with a key anyone on
    the machine could read, and said nothing. Now it is narrowed like the database
    files, with a warning naming it."""
    from server.checks import keyring

    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    (data / "secret_key").write_text("k" * 48)
    keyring.ensure(data)
    (data / key_file).chmod(0o644)
    _port, done = _serve_on_a_taken_port(tmp_path, {})
    assert (data / key_file).stat().st_mode & 0o777 == 0o600
    assert f"{data / key_file} could be read by other users (mode 0644); it is 0600 now" in (
        done.stderr
    )


def test_an_empty_secret_key_file_stops_every_command(tmp_path):
    """An empty ``secret_key`` (a restore by hand that went wrong) signed sessions with
    the empty string."""
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    (data / "secret_key").touch(mode=0o600)
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "SECRET_KEY"}}
    done = _manage(env | {"TESSERA_DATA_DIR": str(data)}, "migrate")
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.strip().splitlines()[0] == f"{data / 'secret_key'} is empty."
