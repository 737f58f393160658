"""Backups that restore (issue 14 item 2): a backup taken while serving, restored into a
fresh data directory, keeps printed cards, mobile cards and queued mail working."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
import os
import subprocess
import sys
import tarfile
import time
import urllib.request
from pathlib import Path

import httpx
import pytest
from starlette.datastructures import Secret

from server.app import create_app
from server.cards.service import issue_link
from server.checks import codes
from server.checks.keyring import keyring_for
from server.config import load_settings
from server.mail.delivery import deliver_once
from server.migrate import upgrade
from tests.card_fixtures import mail_for
from tests.factories import make_member
from tests.live import free_port, run_manage, run_manage_each
from tests.smtp_fixtures import SmtpCapture

ROOT = Path(__file__).resolve().parent.parent


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return run_manage(env, *args)


def environment(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "SECRET_KEY"}}
    return env | {
        "TESSERA_DATA_DIR": str(data_dir),
        "BASE_URL": "http://testserver",
        "TESSERA_BACKGROUND_JOBS": "false",  # the test delivers the queued mail itself
    }


async def _serve_and_close(settings, steps):
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 5000))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
    ):
        return await steps(app, client)


async def test_restore_into_a_fresh_directory_keeps_cards_and_queued_mail(tmp_path, sqlite_only):
    original = tmp_path / "original"
    env = environment(original)
    settings = load_settings(env)  # secret_key file and SQLite database in the data dir
    await upgrade(settings.database_url)

    async def arrange(app, client):
        async with app.state.sessionmaker() as db:
            member = await make_member(
                db,
                sca_name="Alys of the Backup",
                membership_number="B1",
                membership_expires_on=dt.date.today() + dt.timedelta(days=300),
                verified_at=dt.datetime.now(dt.UTC),
            )
            issued = await issue_link(db, member, None, mail_for(settings), dt.date.today())
            await db.commit()
            public_id = member.public_id
        card = await client.get(f"/card/{issued.token}.json")
        assert card.status_code == 200
        printed = codes.printed_code(
            keyring_for(settings.data_dir),
            public_id,
            dt.datetime.now(dt.UTC),
            dt.date.today() + dt.timedelta(days=300),
        )
        return issued.token, printed

    token, printed = await _serve_and_close(settings, arrange)

    done = manage("backup", str(tmp_path / "backups"), env=env)
    assert done.returncode == 0, done.stderr
    [archive] = (tmp_path / "backups").glob("tessera-backup-*.tar.gz")
    assert oct(archive.stat().st_mode & 0o777) == "0o600"
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
    assert names[0] == "manifest.json"
    assert {"tessera.sqlite3", "secret_key", "check_keys.json"} <= set(names)
    assert {f["name"] for f in manifest["files"]} == set(names) - {"manifest.json"}
    assert all(len(f["sha256"]) == 64 for f in manifest["files"])

    fresh = tmp_path / "fresh"
    fresh_env = environment(fresh)
    done = manage("restore", str(archive), env=fresh_env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SECRET_KEY differs" not in done.stdout
    again = manage("restore", str(archive), env=fresh_env)
    assert again.returncode == 1 and "already holds a database" in again.stderr
    assert "--force" in again.stderr
    forced = manage("restore", str(archive), "--force", env=fresh_env)
    assert forced.returncode == 0, forced.stderr

    restored = load_settings(fresh_env)
    assert str(restored.secret_key) == str(settings.secret_key)  # the key came back
    smtp = SmtpCapture()
    smtp.start()

    async def check(app, client):
        # The printed auth card still verifies (its key came back with the database).
        answer = await client.get(f"/check/{printed}", headers={"Accept": "application/json"})
        assert answer.status_code == 200
        assert answer.json()["result"] == "ok", answer.json()
        # The mobile card still opens with the emailed link.
        card = await client.get(f"/card/{token}.json")
        assert card.status_code == 200 and "Alys of the Backup" in card.text
        # The queued mail still goes out, its sealed link opened with the restored key.
        with_smtp = dataclasses.replace(restored, smtp_url=Secret(smtp.url))
        report = await deliver_once(app.state.sessionmaker, with_smtp)
        assert report.sent == 1 and report.failed == 0

    try:
        await _serve_and_close(restored, check)
    finally:
        smtp.stop()
    assert smtp.card_urls() == [f"http://testserver/card/{token}"]


def test_a_damaged_archive_is_refused_before_anything_is_written(tmp_path, sqlite_only):
    env = environment(tmp_path / "original")
    assert manage("migrate", env=env).returncode == 0
    assert manage("backup", str(tmp_path / "b.tar.gz"), env=env).returncode == 0
    with tarfile.open(tmp_path / "b.tar.gz") as tar:
        members = [(m, tar.extractfile(m).read()) for m in tar.getmembers()]  # type: ignore[union-attr]
    with tarfile.open(tmp_path / "damaged.tar.gz", "w:gz") as tar:
        for member, body in members:
            if member.name == "secret_key":
                body = b"X" + body[1:]  # one byte flipped, same size
            tar.addfile(member, io.BytesIO(body))
    fresh = tmp_path / "fresh"
    done = manage("restore", str(tmp_path / "damaged.tar.gz"), env=environment(fresh))
    assert done.returncode == 1 and "damaged" in done.stderr
    assert not (fresh / "tessera.sqlite3").exists() and not (fresh / "secret_key").exists()


@pytest.mark.postgres_only
@pytest.mark.parametrize("spelling", ["postgresql+asyncpg", "postgres"])
def test_on_postgresql_the_backup_keeps_the_keys(database_url, tmp_path, spelling):
    """``postgres://`` (a hosting service's spelling) is PostgreSQL in the manifest too."""
    url = spelling + "://" + database_url.split("://", 1)[1]
    env = environment(tmp_path / "data") | {"DATABASE_URL": url}
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "check_keys.json").write_text("{}")
    (tmp_path / "data" / "secret_key").write_text("the server's key")  # made at its start
    done = manage("backup", str(tmp_path / "pg.tar.gz"), env=env)
    assert done.returncode == 0, done.stderr
    assert "pg_dump" in done.stdout
    with tarfile.open(tmp_path / "pg.tar.gz") as tar:
        assert set(tar.getnames()) == {"manifest.json", "secret_key", "check_keys.json"}
        manifest = tar.extractfile("manifest.json")
        assert manifest is not None
        assert json.load(manifest)["database"] == "postgresql"


def test_bad_destinations_and_cut_archives_get_a_clear_message(tmp_path, sqlite_only):
    """Each command's answer is the point, not its process: the commands run in two
    processes (``run_manage_each``), not eleven."""
    env = environment(tmp_path / "original")
    a_file = tmp_path / "notes.txt"
    a_file.write_text("not a folder")
    bad = [
        (a_file, "is a file, not a folder"),
        (a_file / "backups", "cannot make the folder"),
        (a_file / "b.tar.gz", "cannot make the folder"),
    ]
    # The README's cron line: the same folder, night after night (or twice a second).
    backups = tmp_path / "backups"
    migrated, *done_all = run_manage_each(
        (env, ["migrate"]),
        *((env, ["backup", str(destination)]) for destination, _ in bad),
        *((env, ["backup", str(backups)]) for _night in (1, 2, 3)),
        (env, ["backup", str(tmp_path / "b.tar.gz")]),
    )
    assert migrated.returncode == 0, migrated.stderr
    for (_, says), done in zip(bad, done_all[:3], strict=True):
        assert done.returncode == 1, done.stdout
        assert says in done.stderr and "could not start" not in done.stderr, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert a_file.read_text() == "not a folder"

    written_on: list[Path] = []
    for done in done_all[3:6]:
        assert done.returncode == 0, done.stderr
        assert f"Backup written to {backups}/tessera-backup-" in done.stdout
        # A small archive's size in KB, as the file is (it said "0.0 MB").
        written = Path(done.stdout.split("Backup written to ", 1)[1].split(" (", 1)[0])
        assert f"({round(written.stat().st_size / 1e3)} KB)" in done.stdout, done.stdout
        written_on.append(written)
    # Each night's archive beside the earlier ones, none overwritten.
    assert sorted(backups.glob("tessera-backup-*.tar.gz")) == sorted(set(written_on))
    assert len(set(written_on)) == 3

    assert done_all[6].returncode == 0, done_all[6].stderr
    whole = (tmp_path / "b.tar.gz").read_bytes()
    (tmp_path / "cut.tar.gz").write_bytes(whole[: len(whole) // 2])
    fresh = tmp_path / "fresh"
    mistyped = [
        (tmp_path / "no-such-backup.tar.gz", "there is no such file"),
        (tmp_path, "it is not a file"),
    ]
    cut, *refused = run_manage_each(
        (environment(fresh), ["restore", str(tmp_path / "cut.tar.gz")]),
        *((environment(fresh), ["restore", str(path)]) for path, _ in mistyped),
    )
    assert cut.returncode == 1
    assert "damaged or cut short" in cut.stderr and "could not start" not in cut.stderr
    assert not [p for p in fresh.iterdir()] if fresh.exists() else True
    assert not list(tmp_path.glob("*.partial"))

    for (path, says), done in zip(mistyped, refused, strict=True):
        assert done.returncode == 1
        assert f"Restore refused: cannot read {path}: {says}" in done.stderr, done.stderr


async def test_mail_being_sent_at_backup_time_is_queued_in_the_restore(tmp_path, sqlite_only):
    """A backup taken while the server sends mail holds rows claimed by a process that is
    still alive on this machine: restored, they are queued, not held for 5 minutes."""
    import socket
    import sqlite3

    from server.db.engine import make_engine, make_sessionmaker
    from server.mail.outbox import queue_email

    env = environment(tmp_path / "original")
    settings = load_settings(env)
    await upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    async with make_sessionmaker(engine)() as db:
        context = {
            "site": {"site_title": "T", "kingdom_name": "K", "card_color": "#000000"},
            "greeting": "Friend",
            "member_name": "Friend",
            "for_parent": False,
            "card_url": "http://testserver/card/x",
        }
        message = queue_email(db, to="m@example.org", template="card_link", context=context)
        message.status = "sending"
        message.claimed_by = f"{socket.gethostname()}:{os.getpid()}:1"
        message.claimed_until = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
        await db.commit()
    await engine.dispose()
    assert manage("backup", str(tmp_path / "b.tar.gz"), env=env).returncode == 0
    fresh = tmp_path / "fresh"
    done = manage("restore", str(tmp_path / "b.tar.gz"), env=environment(fresh))
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(fresh / "tessera.sqlite3") as connection:
        rows = connection.execute("SELECT status, claimed_by, claimed_until FROM outbox").fetchall()
    assert rows == [("queued", None, None)]


async def test_a_backup_from_another_data_dir_than_the_servers_is_refused(
    app, client, db, settings, database_url, tmp_path
):
    """Cron runs `backup` in another folder, or without TESSERA_DATA_DIR: the data dir it
    reads is not the server's. Its keys would restore cards that check as forged, and a
    key file made there on the spot would pass for the server's: the backup says so and
    writes nothing, instead of an archive that cannot restore."""
    member = await make_member(db, membership_expires_on=dt.date.today() + dt.timedelta(days=90))
    issued = await issue_link(db, member, None, mail_for(settings), dt.date.today())
    await db.commit()
    assert (await client.get(f"/card/{issued.token}.json")).status_code == 200  # code stored

    elsewhere = tmp_path / "elsewhere"
    keyring_for(elsewhere)  # a data dir with check keys of its own
    env = environment(elsewhere) | {"DATABASE_URL": database_url}
    done = manage("backup", str(tmp_path / "wrong"), env=env)
    assert done.returncode == 1, done.stdout
    assert "cannot verify" in done.stderr and "TESSERA_DATA_DIR" in done.stderr, done.stderr
    assert not (tmp_path / "wrong").exists() and not (elsewhere / "secret_key").exists()

    (elsewhere / "check_keys.json").write_text('{"keys": ')  # cut short
    done = manage("backup", str(tmp_path / "wrong"), env=env)
    assert done.returncode == 1 and "check_keys.json cannot be read" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "wrong").exists()

    env = environment(settings.data_dir) | {"DATABASE_URL": database_url}
    done = manage("backup", str(tmp_path / "right"), env=env)
    assert done.returncode == 0, done.stderr
    assert "check_keys.json" in done.stdout


@pytest.mark.postgres_only
def test_on_postgresql_a_backup_of_an_empty_data_dir_is_refused(database_url, tmp_path):
    """The data dir is only keys on PostgreSQL: one with none (a forgotten
    TESSERA_DATA_DIR: ./data in cron's working folder) is no backup — and no secret_key
    is made there to be archived as if it were the server's."""
    empty = tmp_path / "data"
    done = manage(
        "backup", str(tmp_path / "b"), env=environment(empty) | {"DATABASE_URL": database_url}
    )
    assert done.returncode == 1, done.stdout
    assert "holds no key files" in done.stderr and "TESSERA_DATA_DIR" in done.stderr
    assert not (empty / "secret_key").exists() and not (tmp_path / "b").exists()


def test_the_check_keys_exist_to_copy_before_the_first_card(database_url, tmp_path):
    """README, "Running on PostgreSQL": the first server makes check_keys.json, to be
    copied (or backed up and restored) to every other machine before that one starts. On
    a new deployment nobody has signed a code yet: the archive of `backup` held no keys
    (and `serve` had made none), so each machine restored from it made keys of its own
    and refused the others' cards."""
    first = tmp_path / "first"
    env = environment(first) | {"DATABASE_URL": database_url}
    assert manage("migrate", env=env).returncode == 0
    done = manage("backup", str(tmp_path / "first.tar.gz"), env=env)
    assert done.returncode == 0, done.stderr
    with tarfile.open(tmp_path / "first.tar.gz") as tar:
        assert "check_keys.json" in tar.getnames()
        packed = tar.extractfile("check_keys.json")
        assert packed is not None and packed.read() == (first / "check_keys.json").read_bytes()

    served = tmp_path / "served"
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--port", str(port)],
        cwd=ROOT,
        env=environment(served) | {"DATABASE_URL": database_url},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None and time.monotonic() < deadline
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1).read()
                break
            except OSError:
                time.sleep(0.2)
        assert json.loads((served / "check_keys.json").read_text())["keys"]
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_a_backup_without_a_database_leaves_no_folder_behind(tmp_path):
    """``backup`` of a data dir that has no database said so, but had made the
    destination folder first."""
    from server.backup.archive import BackupError, backup
    from server.config import load_settings

    settings = load_settings({"TESSERA_DATA_DIR": str(tmp_path / "data"), "SECRET_KEY": "x" * 40})
    destination = tmp_path / "backups" / "nightly"
    with pytest.raises(BackupError, match="there is no database at"):
        backup(settings, destination, secret_from_environment=True)
    assert not (tmp_path / "backups").exists()
