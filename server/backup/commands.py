"""``manage.py backup DEST`` and ``manage.py restore ARCHIVE`` (see server.backup.archive)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from server.backup.archive import BackupError, backup, read_manifest, restore
from server.cli import argument, command
from server.config import load_settings


@command("backup", "Write one archive with the database (SQLite) and the key files.")
@argument("destination", help="A folder (a dated file is made in it) or a .tar.gz path.")
def backup_command(args: argparse.Namespace) -> int:
    settings = load_settings()
    try:
        result = backup(
            settings,
            Path(args.destination),
            secret_from_environment=bool(os.environ.get("SECRET_KEY")),
        )
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
