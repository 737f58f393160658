"""``manage.py backup DEST`` and ``manage.py restore ARCHIVE`` (see server.backup.archive)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from server.backup.archive import (
    BackupError,
    backup,
    key_files,
    read_manifest,
    restore,
    sqlite_path,
)
from server.checks import keyring
from server.checks.key_agreement import newest_code, unverified
from server.cli import argument, command
from server.config import Settings, load_settings


def keys_problem(settings: Settings) -> str | None:
    """Why the data directory's keys are not the ones this database's cards need — the
    sign of a backup run with another TESSERA_DATA_DIR than the server's (cron's working
    folder, a forgotten variable): its archive would restore cards that check as forged."""
    data_dir = settings.data_dir
    database = sqlite_path(settings.database_url)
    if database is None and not key_files(data_dir, None):
        return (
            f"{data_dir} holds no key files (secret_key, {keyring.FILE_NAME}): is "
            "TESSERA_DATA_DIR the server's data directory? Run backup with the server's "
            "environment"
        )
    if database is not None and not database.exists():
        return None  # the backup itself says there is no database
    try:
        code = newest_code(settings.database_url)
    except Exception:  # the database cannot be read: the keys are saved as they are
        return None
    if code is None:
        return None
    try:
        ring = keyring.read(data_dir)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return f"{data_dir / keyring.FILE_NAME} cannot be read ({exc})"
    reason = unverified(code, ring)
    if reason is None:
        return None
    return (
        f"the cards in the database carry check codes that the keys in {data_dir} cannot "
        f"verify ({reason}): is TESSERA_DATA_DIR the server's data directory? Run backup "
        "with the server's environment"
    )


@command("backup", "Write one archive with the database (SQLite) and the key files.")
@argument("destination", help="A folder (a dated file is made in it) or a .tar.gz path.")
def backup_command(args: argparse.Namespace) -> int:
    from_environment = bool(os.environ.get("SECRET_KEY"))
    # Without SECRET_KEY, load_settings would make a secret_key file in a data dir that
    # has none, and the archive would carry that new key as if it were the server's.
    settings = load_settings({**os.environ, "SECRET_KEY": os.environ.get("SECRET_KEY") or "-"})
    problem = keys_problem(settings)
    if problem is not None:
        print(f"Backup failed: {problem}.", file=sys.stderr)
        return 1
    try:
        result = backup(settings, Path(args.destination), secret_from_environment=from_environment)
    except BackupError as exc:
        print(f"Backup failed: {exc}.", file=sys.stderr)
        return 1
    size = result.archive.stat().st_size
    shown = f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{max(1, round(size / 1e3))} KB"
    print(f"Backup written to {result.archive} ({shown}): {', '.join(result.files)}.")
    print("It holds the keys: keep it as secret as the server itself.")
    for warning in result.warnings:
        print(f"Note: {warning}")
    return 0


@command("restore", "Restore a backup archive into the data directory (TESSERA_DATA_DIR).")
@argument("archive", help="A .tar.gz made by `manage.py backup`.")
@argument(
    "--force",
    action="store_true",
    help="Replace the database and keys already in the data directory (stop the server first).",
)
def restore_command(args: argparse.Namespace) -> int:
    # Without SECRET_KEY, load_settings would make a new secret_key file: the one to
    # restore is in the archive.
    settings = load_settings({**os.environ, "SECRET_KEY": os.environ.get("SECRET_KEY") or "-"})
    archive = Path(args.archive)
    try:
        manifest = read_manifest(archive)
        result = restore(settings, archive, force=args.force)
    except BackupError as exc:
        print(f"Restore refused: {exc}", file=sys.stderr)
        return 1
    print(
        f"Restored {', '.join(result.files)} from the backup of {manifest['created_at']} "
        f"into {settings.data_dir}."
    )
    for warning in result.warnings:
        print(f"Note: {warning}")
    print("Start (or restart) the server; `python manage.py migrate` if it asks for it.")
    return 0
