"""Readiness: the database answers, its schema is at head, the data dir is writable.

Each check is cheap (one indexed read, one small file written and removed) and
bounded by ``TIMEOUT``; the expected schema heads are read from the migration
scripts once per process.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from server.db.outage import unreachable
from server.migrate import alembic_config, version_locations

TIMEOUT = 2.0
_heads: dict[tuple[Path, ...], tuple[frozenset[str], frozenset[str]]] = {}


@dataclass
class Readiness:
    checks: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, object]:
        body: dict[str, object] = {"status": "ready" if self.ready else "not ready"}
        body["checks"] = self.checks
        if self.problems:
            body["reason"] = "; ".join(self.problems)
        return body


def revisions(database_url: str) -> tuple[frozenset[str], frozenset[str]]:
    """(the heads, every revision) of the code's migration scripts."""
    key = tuple(version_locations())
    if key not in _heads:
        script = ScriptDirectory.from_config(alembic_config(database_url))
        known = frozenset(r.revision for r in script.walk_revisions())
        _heads[key] = (frozenset(script.get_heads()), known)
    return _heads[key]


async def _schema_versions(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as connection:
        rows = await connection.execute(text("SELECT version_num FROM alembic_version"))
        return set(rows.scalars())


def _data_dir_writable(data_dir: Path) -> str | None:
    probe = data_dir / f".readyz-{os.getpid()}"
    try:
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as exc:
        return f"the data directory {data_dir} is not writable ({exc.strerror or exc})"
    return None


async def check(engine: AsyncEngine, database_url: str, data_dir: Path) -> Readiness:
    result = Readiness()
    try:
        async with asyncio.timeout(TIMEOUT):
            versions = await _schema_versions(engine)
    except TimeoutError:
        result.checks["database"] = "timeout"
        result.problems.append(f"the database did not answer within {TIMEOUT:g} s")
    except Exception as exc:
        result.checks["database"] = "unreachable"
        why = unreachable(exc) or type(exc).__name__
        result.problems.append(f"the database is unreachable ({why.split(':')[0]})")
    else:
        result.checks["database"] = "ok"
        heads, known = await asyncio.to_thread(revisions, database_url)
        if versions == heads:
            result.checks["schema"] = "ok"
        elif versions - known:
            result.checks["schema"] = "newer"
            result.problems.append(
                "the database schema is newer than the code (a newer version migrated it): "
                "run that version, or restore the backup taken before the upgrade"
            )
        else:
            result.checks["schema"] = "behind"
            result.problems.append(
                "the database schema is not at the code's revision: run `python manage.py migrate`"
            )
    problem = _data_dir_writable(data_dir)
    result.checks["data_dir"] = "ok" if problem is None else "not writable"
    if problem:
        result.problems.append(problem)
    return result
