"""The check log and per-member code revocations."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from server.database import Base, utcnow


class CheckEntry(Base):
    """One check of one code, online (the live page) or uploaded later by a scanner."""

    __tablename__ = "check_log"
    # The log is written at the pace of the gates, so every index is one that appends:
    # time first. A member's checks are found in a time window through the same index
    # (see ``server.checks.reports``); an index led by the member would take a random
    # insert per check, costing more than the rest of the write.
    __table_args__ = (
        Index("ix_check_log_checked_member", "checked_at", "member_id"),
        Index(
            "uq_check_log_client_ref",
            "client_ref",
            unique=True,
            sqlite_where=text("client_ref IS NOT NULL"),
            postgresql_where=text("client_ref IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    checked_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    recorded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    checker_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    result: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(Text, default="")
    code_issued_at: Mapped[dt.datetime | None] = mapped_column()
    key_id: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(10), default="online")  # or "offline"
    # The scanner's id for an uploaded entry: a retried upload is not logged twice.
    client_ref: Mapped[str | None] = mapped_column(String(64))


class CodeRevocation(Base):
    """ "Codes issued to this member before ``revoked_before`` are refused" (lost card)."""

    __tablename__ = "check_code_revocations"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    revoked_before: Mapped[dt.datetime] = mapped_column()
    reason: Mapped[str] = mapped_column(Text, default="")
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
