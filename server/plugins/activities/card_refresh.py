"""Keeping "May authorize" fresh: group changes mark the affected mobile cards stale.

Who may authorize follows from group memberships and the groups' permissions, which
``server.cards.invalidation`` does not watch; this listener marks the cards of members
whose memberships (or whose groups) were flushed, in the same transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from server.cards.invalidation import stale_statement
from server.groups.models import Group, GroupMembership


@event.listens_for(Session, "after_flush")
def _groups_flushed(session: Session, flush_context: Any) -> None:
    touched = [*session.new, *session.dirty, *session.deleted]
    members = {o.member_id for o in touched if isinstance(o, GroupMembership)}
    groups = {o.id for o in touched if isinstance(o, Group) and o not in session.new}
    if not members and not groups:
        return
    connection = session.connection()
    if members:
        connection.execute(stale_statement(members))
    if groups:
        in_groups = select(GroupMembership.member_id).where(GroupMembership.group_id.in_(groups))
        connection.execute(stale_statement(in_groups))
