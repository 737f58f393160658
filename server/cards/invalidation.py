"""Marking card payloads stale: the one API every change that concerns a card goes through.

``invalidate(db, members)`` marks payloads stale in the caller's transaction —
``members`` is a list of ids, a ``select`` of member ids (set-based, for jobs over the
register), or None for every card (an app setting, a retired check key, an activity's
name): that adds one ``CardEpoch`` row instead of rewriting every payload; a payload
built before the newest epoch is stale.

The ORM calls them by itself (installed when ``server.cards`` is imported): a flushed
``Member`` whose card fields changed, a ``Branch`` (its members), an app setting, and
every ``update(Member)``/``delete(Member)`` statement run through a session (for the
rows it matches) unless it carries ``CARD_UNCHANGED`` in its execution options (login
bookkeeping and other columns no card shows). Anything else that changes what a card
shows — plugin data, statements on other tables — calls ``invalidate`` itself. Stale payloads are rebuilt on the next request for them or by
the background rebuilder (``server.cards.rebuild``), whichever comes first.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import (
    Delete,
    Select,
    Update,
    event,
    func,
    insert,
    inspect,
    literal_column,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session

from server.cards.models import CardEpoch, CardPayload
from server.database import utcnow
from server.members.models import Branch, Member
from server.settings.models import SettingValue

Members = Iterable[int] | Select[Any]  # member ids, or a select of them

# Member fields that never appear on a card: changing only these keeps the payload.
NOT_ON_CARD = frozenset(
    {
        "password_hash",
        "failed_login_attempts",
        "last_failed_login",
        "locked_until",
        "last_login",
        "modified_at",
        "modified_by_id",
        "version",
        "is_staff",
    }
)

# ``update(Member).execution_options(**CARD_UNCHANGED)``: no card shows what it changes.
CARD_UNCHANGED = {"tessera_card_unchanged": True}

# The 0 is SQL text, not a bound parameter, so the expression also fits the hot paths'
# precompiled statements (``server.checks.lookup``), whose parameters are positional.
CURRENT_EPOCH = select(func.coalesce(func.max(CardEpoch.id), literal_column("0"))).scalar_subquery()


def stale_statement(members: Members) -> Update:
    """The UPDATE that marks ``members``' payloads stale."""
    chosen = members if isinstance(members, Select) else sorted(set(members))
    return (
        update(CardPayload)
        .where(CardPayload.member_id.in_(chosen))
        .values(generation=CardPayload.generation + 1, body=None, valid_until=0)
        .execution_options(synchronize_session=False)
    )


async def invalidate(
    db: AsyncSession, members: Members | None, *, reason: str = "", actor_id: int | None = None
) -> None:
    """Mark these members' cards (None: every card, for ``reason``) as changed, in the
    caller's transaction."""
    if members is None:
        await db.execute(epoch_statement(reason or "every card changed", actor_id))
        return
    if not isinstance(members, Select):
        members = list(members)
        if not members:
            return
    await db.execute(stale_statement(members))


def epoch_statement(reason: str, actor_id: int | None = None) -> Any:
    return insert(CardEpoch).values(created_at=utcnow(), reason=reason, created_by_id=actor_id)


# --- ORM flushes ------------------------------------------------------------------


def _changed_on_card(member: Member) -> bool:
    state = inspect(member)
    return any(
        attr.key not in NOT_ON_CARD and state.attrs[attr.key].history.has_changes()
        for attr in state.mapper.column_attrs
    )


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, flush_context: Any) -> None:
    members: set[int] = set()
    branches: set[int] = set()
    settings_changed = False
    for obj in session.dirty:
        if isinstance(obj, Member) and _changed_on_card(obj):
            members.add(obj.id)
        elif isinstance(obj, Branch):
            branches.add(obj.id)
        elif isinstance(obj, SettingValue):
            settings_changed = True
    for obj in session.deleted:
        if isinstance(obj, Member):
            members.add(obj.id)
        elif isinstance(obj, Branch):
            branches.add(obj.id)
    settings_changed = settings_changed or any(
        isinstance(o, SettingValue) for o in (*session.new, *session.deleted)
    )
    connection = session.connection()
    if settings_changed:
        connection.execute(epoch_statement("app settings changed"))
    if members:
        connection.execute(stale_statement(members))
    if branches:
        in_branches = select(Member.id).where(Member.branch_id.in_(sorted(branches)))
        connection.execute(stale_statement(in_branches))


@event.listens_for(Session, "do_orm_execute")
def _on_member_statement(state: ORMExecuteState) -> None:
    """``update(Member)``/``delete(Member)``: the rows it matches, before it runs."""
    if not (state.is_update or state.is_delete):
        return
    if state.execution_options.get("tessera_card_unchanged"):
        return
    statement = state.statement
    if not isinstance(statement, Update | Delete):
        return
    if statement.entity_description.get("entity") is not Member:
        return
    where = statement.whereclause
    matched = select(Member.id) if where is None else select(Member.id).where(where)
    state.session.connection().execute(stale_statement(matched))
