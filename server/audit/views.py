"""Reading the audit log for pages: entries with their actors, newest first."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.audit.models import AuditEntry
from server.auth import permissions
from server.members.models import Member

PAGE_SIZE = 100


@dataclass(frozen=True)
class Change:
    field: str
    before: Any
    after: Any


@dataclass(frozen=True)
class EntryView:
    entry: AuditEntry
    actor: Member | None
    subject: Member | None
    changes: list[Change]


# Fields holding permission keys: shown by the permissions' labels, as everywhere else.
PERMISSION_FIELDS = frozenset({"permissions", "chair_permissions"})


def _shown(field: str, value: Any) -> Any:
    """``value`` as an officer reads it: a list as its items (permissions by label)."""
    if not isinstance(value, list):
        return value
    if field in PERMISSION_FIELDS:
        value = [
            perm.label if isinstance(key, str) and (perm := permissions.get(key)) else key
            for key in value
        ]
    return "; ".join(str(item) for item in value) if value else ""


def _changes(entry: AuditEntry) -> list[Change]:
    before, after = entry.before or {}, entry.after or {}
    keys = list(dict.fromkeys([*before, *after]))
    return [Change(k, _shown(k, before.get(k)), _shown(k, after.get(k))) for k in keys]


async def page_of_entries(
    db: AsyncSession, query: Select[AuditEntry], page: int
) -> tuple[list[EntryView], int]:
    """One page of ``query`` (newest first) with actors and subjects, and the total count."""
    total = await db.scalar(select(func.count()).select_from(query.subquery())) or 0
    entries = list(
        (
            await db.execute(
                query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
                .limit(PAGE_SIZE)
                .offset((page - 1) * PAGE_SIZE)
            )
        ).scalars()
    )
    ids = {e.actor_id for e in entries} | {e.member_id for e in entries}
    ids.discard(None)
    people = {
        m.id: m for m in (await db.execute(select(Member).where(Member.id.in_(ids)))).scalars()
    }
    views = [
        EntryView(
            e,
            people.get(e.actor_id) if e.actor_id else None,
            people.get(e.member_id) if e.member_id else None,
            _changes(e),
        )
        for e in entries
    ]
    return views, total
