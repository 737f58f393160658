"""Activities: activity groups, activities, authorizations and the votes on them."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.database import Base, utcnow

# Authorization statuses, in the words members read.
PENDING = "pending"
APPROVED = "approved"
DENIED = "denied"
REVOKED = "revoked"
EXPIRED = "expired"
RETRACTED = "retracted"
REPLACED = "replaced"
STATUS_LABELS: dict[str, str] = {
    PENDING: "Pending",
    APPROVED: "Approved",
    DENIED: "Denied",
    REVOKED: "Revoked",
    EXPIRED: "Expired",
    RETRACTED: "Retracted",
    REPLACED: "Replaced by a renewal",
}


class ActivityGroup(Base):
    __tablename__ = "activity_groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Activity(Base):
    __tablename__ = "activities"
    __table_args__ = (UniqueConstraint("group_id", "name", name="uq_activities_group_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("activity_groups.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    term_months: Mapped[int | None] = mapped_column(Integer)  # None: no expiry
    minimum_age: Mapped[int | None] = mapped_column(Integer)  # None: no limit
    maximum_age: Mapped[int | None] = mapped_column(Integer)
    approvals_new: Mapped[int] = mapped_column(Integer, default=1)
    approvals_renewal: Mapped[int] = mapped_column(Integer, default=1)
    # The catalogue permission that lets a member authorize this activity.
    authorize_permission: Mapped[str] = mapped_column(String(80))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    group: Mapped[ActivityGroup] = relationship(lazy="raise")


class Authorization(Base):
    __tablename__ = "authorizations"
    __table_args__ = (
        Index("ix_authorizations_member_activity", "member_id", "activity_id"),
        Index("ix_authorizations_status_expires", "status", "expires_on"),
        # At most one pending request and one approved authorization per member and
        # activity, enforced by the database whatever races the application loses.
        Index(
            "uq_authorizations_one_pending",
            "member_id",
            "activity_id",
            unique=True,
            sqlite_where=sql_text("status = 'pending'"),
            postgresql_where=sql_text("status = 'pending'"),
        ),
        Index(
            "uq_authorizations_one_approved",
            "member_id",
            "activity_id",
            unique=True,
            sqlite_where=sql_text("status = 'approved'"),
            postgresql_where=sql_text("status = 'approved'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default=PENDING)
    is_renewal: Mapped[bool] = mapped_column(Boolean, default=False)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    requested_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[dt.datetime | None] = mapped_column()
    start_on: Mapped[dt.date | None] = mapped_column(Date)
    expires_on: Mapped[dt.date | None] = mapped_column(Date)  # None once approved: no expiry
    replaced_by_id: Mapped[int | None] = mapped_column(ForeignKey("authorizations.id"))
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    revoked_at: Mapped[dt.datetime | None] = mapped_column()
    revoked_reason: Mapped[str] = mapped_column(Text, default="")

    activity: Mapped[Activity] = relationship(lazy="raise")

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)


class AuthorizationVote(Base):
    """One authorizer's approval or denial of a request (one vote each)."""

    __tablename__ = "authorization_votes"
    __table_args__ = (
        UniqueConstraint("authorization_id", "authorizer_id", name="uq_authorization_votes_once"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    authorization_id: Mapped[int] = mapped_column(ForeignKey("authorizations.id"), index=True)
    authorizer_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    approve: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
