"""One backup archive: the database (SQLite) and the key files, with a manifest.

A backup that restores must hold three things together: the database, the
``secret_key`` file (it signs sessions and seals the links in queued mail) and
``check_keys.json`` (it signs the codes on printed and mobile cards). Restoring only
the database breaks every printed card and every queued card link.

The archive (``.tar.gz``, mode 0600: it holds the keys) has ``manifest.json`` first,
then the files it lists, each with its size and SHA-256. The SQLite database is copied
with SQLite's online backup API (``sqlite3.Connection.backup``): a consistent copy
while the server keeps serving and writing. Every other top-level file of the data
directory travels too (key files added later included); subfolders, dot-files, logs
and earlier archives do not. On PostgreSQL the archive holds the key files only and
``pg_dump`` saves the database (see the README).

Restoring checks every file against the manifest before anything is written, refuses
a data directory that already holds a database or keys unless forced, copies the
database in with the same backup API (safe even into a file a server has open) and
replaces key files atomically.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import shutil
import sqlite3
import tarfile
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from server.checks import keyring
from server.config import Settings
from server.db.target import DatabaseTarget

FORMAT = 1
MANIFEST = "manifest.json"
DATABASE = "tessera.sqlite3"
SKIPPED_SUFFIXES = ("-wal", "-shm", "-journal", ".tar.gz", ".partial", ".log", ".tmp", ".pid")


class BackupError(Exception):
    """Backing up or restoring cannot go on; the message says why and what to do."""


@dataclass
class Result:
    archive: Path
    files: list[str] = field(default_factory=list)
    database: str = ""
    warnings: list[str] = field(default_factory=list)


def sqlite_path(database_url: str) -> Path | None:
    found = DatabaseTarget.parse(database_url).sqlite_path
    return Path(found).resolve() if found is not None else None


def key_files(data_dir: Path, database: Path | None) -> list[Path]:
    """Top-level files of the data dir other than the live database and transient files."""
    found = []
    for path in sorted(data_dir.iterdir()) if data_dir.is_dir() else []:
        if not path.is_file() or path.name.startswith("."):
            continue
        if database is not None and path.name.startswith(database.name):
            continue
        if path.name.startswith(DATABASE) or path.name.endswith(SKIPPED_SUFFIXES):
            continue
        found.append(path)
    return found


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def key_fingerprint(secret_key: str) -> str:
    return hashlib.sha256(b"tessera.backup:" + secret_key.encode()).hexdigest()[:16]


# Rows of work claimed under a lease (server.db.leases): in the copy they belong to no
# process, and a server started on the restored database must not wait out the lease of
# a claimant that may still be alive on this machine (sending from the original).
CLAIMED_TABLES = ("outbox", "wallet_deliveries")


def _release_claims(copy: sqlite3.Connection) -> None:
    for table in CLAIMED_TABLES:
        try:
            copy.execute(
                f"UPDATE {table} SET status = 'queued', claimed_by = NULL, claimed_until = NULL "
                "WHERE status = 'sending'"
            )
        except sqlite3.OperationalError:  # an older schema without the table
            continue
    copy.commit()


def _copy_sqlite(source: Path, target: Path) -> list[str]:
    """A consistent copy of a live database; returns its schema revisions."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
        check = dst.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise BackupError(f"the copy of {source} failed SQLite's check: {check}")
        dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        _release_claims(dst)
        try:
            return sorted(r[0] for r in dst.execute("SELECT version_num FROM alembic_version"))
        except sqlite3.Error:
            return []
    finally:
        dst.close()
        src.close()


def _problem(exc: OSError) -> str:
    return exc.strerror or str(exc)


def archive_path(destination: Path, now: dt.datetime) -> Path:
    """The archive to write: a dated file in the folder ``destination`` (made if need
    be), or ``destination`` itself when it names a ``.tar.gz``."""
    if destination.is_dir() or not destination.name.endswith((".tar.gz", ".tgz")):
        if destination.exists() and not destination.is_dir():
            raise BackupError(
                f"{destination} is a file, not a folder: give a folder for the archive "
                "or a file name ending in .tar.gz"
            )
        folder = destination
        stamp = now.strftime("%Y%m%dT%H%M%SZ")
        target = destination / f"tessera-backup-{stamp}.tar.gz"
        # Two backups within one second never overwrite each other.
        for n in range(2, 1000):
            if not target.exists():
                break
            target = destination / f"tessera-backup-{stamp}-{n}.tar.gz"
    else:
        folder, target = destination.parent, destination
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BackupError(f"cannot make the folder {folder} ({_problem(exc)})") from None
    return target


def backup(settings: Settings, destination: Path, *, secret_from_environment: bool) -> Result:
    """Write the archive; nothing is left behind (no partial file) when that fails."""
    database = sqlite_path(settings.database_url)
    if database is not None and not database.exists():  # before any folder is made
        raise BackupError(f"there is no database at {database} to back up")
    now = dt.datetime.now(dt.UTC)
    target = archive_path(destination, now)
    partial = target.with_name(target.name + ".partial")
    try:
        return _backup(settings, database, target, partial, now, secret_from_environment)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        where = exc.filename or target
        raise BackupError(f"cannot write the backup ({where}: {_problem(exc)})") from None
    except sqlite3.Error as exc:
        partial.unlink(missing_ok=True)
        raise BackupError(f"cannot copy the database ({exc})") from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def _backup(
    settings: Settings,
    database: Path | None,
    target: Path,
    partial: Path,
    now: dt.datetime,
    secret_from_environment: bool,
) -> Result:
    result = Result(target)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".tessera-backup-") as tmp:
        staged: list[tuple[str, Path]] = []
        revisions: list[str] = []
        if database is not None:
            copy = Path(tmp) / DATABASE
            revisions = _copy_sqlite(database, copy)
            staged.append((DATABASE, copy))
            result.database = "sqlite"
        else:
            result.database = DatabaseTarget.parse(settings.database_url).backend
            result.warnings.append(
                "The database is not in this archive: save it with pg_dump (see the README)."
            )
        # A data dir whose server has not signed a code yet has no check keys: made now,
        # so every machine restored from this archive signs with the same ones.
        keyring.ensure(settings.data_dir)
        for path in key_files(settings.data_dir, database):
            staged.append((path.name, path))
        key_file = settings.data_dir / "secret_key"
        secret_key: str | None = None
        if secret_from_environment:
            secret_key = str(settings.secret_key)
            result.warnings.append(
                "SECRET_KEY comes from the environment and is not in this archive: "
                "keep it with the backup (restored mail links need it)."
            )
        elif key_file.is_file():
            secret_key = key_file.read_text().strip()
        else:
            result.warnings.append(
                f"There is no secret key: SECRET_KEY is not set and {settings.data_dir} "
                "holds no secret_key file. If the server takes SECRET_KEY from its "
                "environment, run backup with it set, and keep it with the backup."
            )
        manifest: dict[str, Any] = {
            "format": FORMAT,
            "created_at": now.isoformat(),
            "database": result.database,
            "schema_revisions": revisions,
            "secret_key": (
                "environment" if secret_from_environment else "file" if secret_key else "none"
            ),
            "secret_key_fingerprint": key_fingerprint(secret_key) if secret_key else None,
            "files": [
                {"name": name, "size": path.stat().st_size, "sha256": _sha256(path)}
                for name, path in staged
            ],
        }
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
            body = json.dumps(manifest, indent=2).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mode, info.mtime = len(body), 0o600, int(now.timestamp())
            tar.addfile(info, io.BytesIO(body))
            for name, path in staged:
                info = tar.gettarinfo(str(path), arcname=name)
                info.mode, info.uid, info.gid, info.uname, info.gname = 0o600, 0, 0, "", ""
                with path.open("rb") as f:
                    tar.addfile(info, f)
        os.replace(partial, target)
    result.files = [name for name, _ in staged]
    return result


def read_manifest(archive: Path) -> dict[str, Any]:
    if not archive.is_file():
        problem = "there is no such file" if not archive.exists() else "it is not a file"
        raise BackupError(f"cannot read {archive}: {problem}")
    try:
        with tarfile.open(archive, "r:gz") as tar:
            member = tar.extractfile(MANIFEST)
            if member is None:
                raise KeyError(MANIFEST)
            manifest: dict[str, Any] = json.loads(member.read())
    except (EOFError, zlib.error) as exc:
        raise BackupError(
            f"{archive} is damaged or cut short ({exc}); nothing was restored"
        ) from None
    except (OSError, tarfile.TarError, KeyError, ValueError) as exc:
        raise BackupError(f"{archive} is not a Tessera backup archive ({exc})") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{archive} has an unknown backup format {manifest.get('format')!r}")
    return manifest


def _extract_checked(archive: Path, manifest: dict[str, Any], into: Path) -> dict[str, Path]:
    """Every listed file, checked against its size and SHA-256, unpacked into ``into``."""
    wanted = {f["name"]: f for f in manifest["files"]}
    for name in wanted:
        if "/" in name or "\\" in name or name in {"", ".", ".."} or name == MANIFEST:
            raise BackupError(f"the archive lists a file with a forbidden name: {name!r}")
    found: dict[str, Path] = {}
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar.getmembers():
            if member.name not in wanted or not member.isfile():
                continue
            source = tar.extractfile(member)
            assert source is not None
            target = into / member.name
            with target.open("wb") as out:
                shutil.copyfileobj(source, out)
            expected = wanted[member.name]
            if target.stat().st_size != expected["size"] or _sha256(target) != expected["sha256"]:
                raise BackupError(f"{member.name} in the archive is damaged (checksum mismatch)")
            found[member.name] = target
    missing = sorted(set(wanted) - set(found))
    if missing:
        raise BackupError(f"the archive lacks {', '.join(missing)}, which its manifest lists")
    return found


def _occupied(settings: Settings, database: Path | None) -> list[str]:
    held = []
    if database is not None and database.exists() and database.stat().st_size > 0:
        held.append(f"a database ({database.name})")
    keys = key_files(settings.data_dir, database)
    if keys:
        held.append("key files (" + ", ".join(p.name for p in keys) + ")")
    return held


def _write_atomically(source: Path, target: Path) -> None:
    partial = target.with_name(f".{target.name}.restoring")
    shutil.copyfile(source, partial)
    os.chmod(partial, 0o600)
    os.replace(partial, target)


def _restore_files(
    settings: Settings,
    archive: Path,
    manifest: dict[str, Any],
    database: Path | None,
    result: Result,
) -> None:
    """Unpack and check every file first, then write the database and the keys."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=settings.data_dir, prefix=".restore-") as tmp:
        files = _extract_checked(archive, manifest, Path(tmp))
        if DATABASE in files and database is not None:
            database.parent.mkdir(parents=True, exist_ok=True)
            src = sqlite3.connect(files[DATABASE])
            dst = sqlite3.connect(database, timeout=30)
            try:
                src.backup(dst)
            finally:
                dst.close()
                src.close()
            result.files.append(database.name)
        for name, path in files.items():
            if name != DATABASE:
                _write_atomically(path, settings.data_dir / name)
                result.files.append(name)


def restore(settings: Settings, archive: Path, *, force: bool) -> Result:
    manifest = read_manifest(archive)
    database = sqlite_path(settings.database_url)
    result = Result(archive, database=str(manifest.get("database", "")))
    if manifest["database"] == "sqlite" and database is None:
        raise BackupError(
            "this archive holds a SQLite database but DATABASE_URL points elsewhere: "
            "restore into a SQLite data directory (unset DATABASE_URL), or migrate the data"
        )
    held = _occupied(settings, database)
    if held and not force:
        raise BackupError(
            f"{settings.data_dir} already holds {' and '.join(held)}; restoring would replace "
            "them. Stop the server and use --force, or restore into an empty TESSERA_DATA_DIR."
        )
    try:
        _restore_files(settings, archive, manifest, database, result)
    except (tarfile.TarError, EOFError, zlib.error) as exc:
        raise BackupError(
            f"{archive} is damaged or cut short ({exc}); nothing was restored"
        ) from None
    except OSError as exc:
        where = exc.filename or settings.data_dir
        raise BackupError(f"cannot write {where} ({_problem(exc)})") from None
    except sqlite3.Error as exc:
        raise BackupError(f"cannot write the database {database} ({exc})") from None
    if manifest["database"] != "sqlite":
        result.warnings.append(
            "The database is not in this archive: restore it with pg_restore (see the README)."
        )
    if manifest.get("secret_key") == "environment":
        result.warnings.append(
            "The backed-up server took SECRET_KEY from the environment: set the same one here."
        )
    restored_key = (
        (settings.data_dir / "secret_key").read_text().strip()
        if (settings.data_dir / "secret_key").exists()
        else None
    )
    current = os.environ.get("SECRET_KEY") or restored_key
    recorded = manifest.get("secret_key_fingerprint")
    if current and recorded and key_fingerprint(current) != recorded:
        result.warnings.append(
            "SECRET_KEY differs from the backed-up server's: sealed links in queued mail "
            "cannot be opened and sessions start over. Use the original SECRET_KEY."
        )
    return result
