"""Reading and writing app settings (defaults from the registry, values from the database)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.audit.log import record
from server.database import utcnow
from server.db.transactions import lock_table
from server.settings.models import SettingValue
from server.settings.registry import definitions, get_definition


async def load_settings(session: AsyncSession) -> dict[str, Any]:
    values = {d.key: d.default for d in definitions()}
    rows = (await session.execute(select(SettingValue.key, SettingValue.value))).all()
    for key, value in rows:
        if key in values:
            values[key] = value
    return values


async def lock_settings(session: AsyncSession) -> None:
    """Serialise writers of settings (two admins saving at once): the second waits,
    then sees the first's rows. Readers are not blocked."""
    await lock_table(session, SettingValue.__tablename__)


async def get_setting(session: AsyncSession, key: str) -> Any:
    definition = get_definition(key)
    row = await session.get(SettingValue, key)
    return definition.default if row is None else row.value


async def set_setting(session: AsyncSession, key: str, value: Any, actor_id: int | None) -> bool:
    """Store an already-parsed value; audit it. Returns whether it changed."""
    definition = get_definition(key)
    await lock_settings(session)
    row = await session.get(SettingValue, key, populate_existing=True)
    old = definition.default if row is None else row.value
    if old == value:
        return False
    if row is None:
        session.add(SettingValue(key=key, value=value, modified_by_id=actor_id))
    else:
        row.value = value
        row.modified_at = utcnow()
        row.modified_by_id = actor_id
    record(
        session,
        actor_id=actor_id,
        action="setting.change",
        entity_type="app_settings",
        before={key: old},
        after={key: value},
    )
    return True
