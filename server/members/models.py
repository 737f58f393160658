"""The member register: branches (a tree) and members."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.database import Base, utcnow


class Branch(Base):
    __tablename__ = "branches"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(40), default="shire")  # kingdom, barony, ...
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("branches.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    parent: Mapped[Branch | None] = relationship(remote_side=[id], lazy="raise")


def new_public_id() -> str:
    return secrets.token_hex(8)


class Member(Base):
    __tablename__ = "members"
    __table_args__ = (
        Index("ix_members_status_branch", "status", "branch_id"),
        # Covers "not deleted, by status" counts (dashboard, list totals) without the table.
        Index("ix_members_status_deleted", "status", "deleted_at"),
        # The register's default order (``server.members.search.ordered``).
        Index("ix_members_name_order", text("lower(sca_name)"), "last_name", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    sca_name: Mapped[str] = mapped_column(String(200), default="")
    first_name: Mapped[str] = mapped_column(String(100), default="")
    middle_name: Mapped[str] = mapped_column(String(100), default="")
    last_name: Mapped[str] = mapped_column(String(100), default="")
    # The address as typed; email_key is its lower-cased form, unique while the
    # member is not deleted (soft delete sets it to NULL and so frees the address).
    email: Mapped[str] = mapped_column(String(254))
    email_key: Mapped[str | None] = mapped_column(String(254), unique=True)
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branches.id"), index=True)
    membership_number: Mapped[str | None] = mapped_column(String(40), index=True)
    membership_expires_on: Mapped[dt.date | None] = mapped_column(Date, index=True)
    background_check_expires_on: Mapped[dt.date | None] = mapped_column(Date)
    street_address: Mapped[str] = mapped_column(String(200), default="")
    city: Mapped[str] = mapped_column(String(100), default="")
    state: Mapped[str] = mapped_column(String(100), default="")
    zip: Mapped[str] = mapped_column(String(20), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    birth_month: Mapped[int | None] = mapped_column(Integer)
    birth_year: Mapped[int | None] = mapped_column(Integer)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"), index=True)
    status: Mapped[str] = mapped_column(String(40), default="active")
    deactivated_at: Mapped[dt.datetime | None] = mapped_column()
    deactivation_reason: Mapped[str] = mapped_column(Text, default="")
    verified_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    verified_at: Mapped[dt.datetime | None] = mapped_column()
    public_notes: Mapped[str] = mapped_column(Text, default="")
    private_notes: Mapped[str] = mapped_column(Text, default="")
    additional_info: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    is_superuser: Mapped[bool] = mapped_column(Boolean, default=False)
    is_staff: Mapped[bool] = mapped_column(Boolean, default=False)
    password_hash: Mapped[str | None] = mapped_column(String(200))
    failed_login_attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_failed_login: Mapped[dt.datetime | None] = mapped_column()
    locked_until: Mapped[dt.datetime | None] = mapped_column()
    last_login: Mapped[dt.datetime | None] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    modified_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    modified_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    deleted_at: Mapped[dt.datetime | None] = mapped_column()
    deleted_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    # Optimistic concurrency: every write bumps it; a stale form is refused.
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}

    branch: Mapped[Branch | None] = relationship(lazy="raise")
    parent: Mapped[Member | None] = relationship(
        remote_side=[id], foreign_keys=[parent_id], lazy="raise"
    )

    @property
    def display_name(self) -> str:
        return self.sca_name or self.legal_name or self.email

    @property
    def legal_name(self) -> str:
        return " ".join(p for p in (self.first_name, self.middle_name, self.last_name) if p)

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    @property
    def is_deactivated(self) -> bool:
        return self.deactivated_at is not None

    @property
    def membership_verified(self) -> bool:
        return self.verified_at is not None
