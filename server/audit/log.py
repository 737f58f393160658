"""Writing audit rows inside the caller's transaction."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncSession

from server.audit.models import AuditEntry
from server.database import Base

SKIPPED_FIELDS = frozenset({"password_hash", "version", "modified_at", "email_key"})


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def snapshot(obj: Base, fields: list[str] | None = None) -> dict[str, Any]:
    """The column values of ``obj`` as JSON-ready data (secrets left out)."""
    mapper = inspect(obj).mapper
    names = fields or [c.key for c in mapper.column_attrs]
    return {n: _plain(getattr(obj, n)) for n in names if n not in SKIPPED_FIELDS}


def changes(before: dict[str, Any], after: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the keys whose values differ, as (before, after)."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


def record(
    session: AsyncSession,
    *,
    actor_id: int | None,
    action: str,
    entity: Base | None = None,
    entity_type: str | None = None,
    entity_id: int | None = None,
    member_id: int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    note: str = "",
) -> AuditEntry:
    if entity is not None:
        entity_type = entity_type or entity.__tablename__
        entity_id = entity_id if entity_id is not None else getattr(entity, "id", None)
    entry = AuditEntry(
        actor_id=actor_id,
        action=action,
        entity_type=entity_type or "system",
        entity_id=entity_id,
        member_id=member_id,
        before=before,
        after=after,
        note=note,
    )
    session.add(entry)
    return entry
