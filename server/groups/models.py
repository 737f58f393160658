"""Groups (boards, offices, committees) and dated group memberships."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.database import Base, utcnow
from server.members.models import Member


class Group(Base):
    __tablename__ = "groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    since: Mapped[dt.date] = mapped_column(Date)
    until: Mapped[dt.date | None] = mapped_column(Date)
    permissions: Mapped[list[str]] = mapped_column(JSON, default=list)
    chair_permissions: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class GroupMembership(Base):
    __tablename__ = "group_memberships"
    __table_args__ = (Index("ix_group_memberships_member_dates", "member_id", "since", "until"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    since: Mapped[dt.date] = mapped_column(Date)
    until: Mapped[dt.date | None] = mapped_column(Date)  # None: open-ended
    role: Mapped[str] = mapped_column(String(200), default="")
    is_chair: Mapped[bool] = mapped_column(Boolean, default=False)
    granted_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    ended_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    group: Mapped[Group] = relationship(lazy="raise")
    member: Mapped[Member] = relationship(foreign_keys=[member_id], lazy="raise")

    @property
    def is_cancelled(self) -> bool:
        """Withdrawn before it began: ``until`` is the day before ``since`` (an empty
        period, never current; ``server.groups.service.end_membership``)."""
        return self.until is not None and self.until < self.since

    def is_current(self, today: dt.date) -> bool:
        return self.since <= today and (self.until is None or today <= self.until)
