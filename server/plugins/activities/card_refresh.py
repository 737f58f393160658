"""Keeping "May authorize" fresh: group changes mark the affected mobile cards stale.

Who may authorize follows from group memberships and the groups' permissions, which
``server.cards.payload`` does not watch; this listener marks the cards of members whose
memberships (or whose groups) were flushed, in the same transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from server.cards.models import CardPayload
from server.groups.models import Group, GroupMembership


@event.listens_for(Session, "after_flush")
def _groups_flushed(session: Session, flush_context: Any) -> None:
    touched = [*session.new, *session.dirty, *session.deleted]
    members = {o.member_id for o in touched if isinstance(o, GroupMembership)}
    groups = {o.id for o in touched if isinstance(o, Group) and o not in session.new}
    if not members and not groups:
        return
    targets = select(GroupMembership.member_id).where(GroupMembership.group_id.in_(groups))
    session.connection().execute(
        update(CardPayload)
        .where(CardPayload.member_id.in_(members) | CardPayload.member_id.in_(targets))
        .values(generation=CardPayload.generation + 1, body=None, valid_until=0)
    )
