"""Member-code agreements (an organisation sponsors members) and the seats they fill."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.database import Base, utcnow


class Agreement(Base):
    __tablename__ = "member_code_agreements"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation: Mapped[str] = mapped_column(String(200))
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branches.id"), index=True)
    # The code as the admin typed it; code_key is its trimmed lower-case form (unique).
    code: Mapped[str] = mapped_column(String(60))
    code_key: Mapped[str] = mapped_column(String(60), unique=True)
    starts_on: Mapped[dt.date] = mapped_column(Date)
    ends_on: Mapped[dt.date] = mapped_column(Date)
    seats: Mapped[int] = mapped_column(Integer)
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    modified_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    modified_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))


class Seat(Base):
    """One member created with an agreement's code (seats remaining = seats − rows)."""

    __tablename__ = "member_code_seats"

    id: Mapped[int] = mapped_column(primary_key=True)
    agreement_id: Mapped[int] = mapped_column(ForeignKey("member_code_agreements.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), unique=True)
    assigned_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    assigned_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
