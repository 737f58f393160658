"""The check log and per-member code revocations."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.database import Base, utcnow


class CheckEntry(Base):
    """One check of one code, online (the live page) or uploaded later by a scanner."""

    __tablename__ = "check_log"
    __table_args__ = (Index("ix_check_log_member_checked", "member_id", "checked_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    checked_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    recorded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    checker_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"), index=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    result: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(Text, default="")
    code_issued_at: Mapped[dt.datetime | None] = mapped_column()
    key_id: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(10), default="online")  # or "offline"
    # The scanner's id for an uploaded entry: a retried upload is not logged twice.
    client_ref: Mapped[str | None] = mapped_column(String(64), unique=True)


class CodeRevocation(Base):
    """ "Codes issued to this member before ``revoked_before`` are refused" (lost card)."""

    __tablename__ = "check_code_revocations"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    revoked_before: Mapped[dt.datetime] = mapped_column()
    reason: Mapped[str] = mapped_column(Text, default="")
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
