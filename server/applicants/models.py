"""Applicants (public registrations awaiting review) and the weekly new-members recap."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from server.database import Base, utcnow

# Emptied when the member is created: from then on the member is the one source.
PERSONAL_FIELDS = (
    "sca_name",
    "first_name",
    "middle_name",
    "last_name",
    "email",
    "birth_month",
    "birth_year",
    "street_address",
    "city",
    "state",
    "zip",
    "phone",
)


class Applicant(Base):
    __tablename__ = "applicants"

    id: Mapped[int] = mapped_column(primary_key=True)
    submitted_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    sca_name: Mapped[str] = mapped_column(String(200), default="")
    first_name: Mapped[str] = mapped_column(String(100), default="")
    middle_name: Mapped[str] = mapped_column(String(100), default="")
    last_name: Mapped[str] = mapped_column(String(100), default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    birth_month: Mapped[int | None] = mapped_column(Integer)
    birth_year: Mapped[int | None] = mapped_column(Integer)
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branches.id"), index=True)
    street_address: Mapped[str] = mapped_column(String(200), default="")
    city: Mapped[str] = mapped_column(String(100), default="")
    state: Mapped[str] = mapped_column(String(100), default="")
    zip: Mapped[str] = mapped_column(String(20), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    member_code: Mapped[str] = mapped_column(String(60), default="")
    # True only when the code failed validation and the applicant ticked "submit anyway".
    code_override: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    terms_accepted_at: Mapped[dt.datetime | None] = mapped_column()
    # Set once, by "Create member"; the applicant row is kept for history.
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"), unique=True)
    member_created_at: Mapped[dt.datetime | None] = mapped_column()
    member_created_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    # Set once, by "Decline"; a declined applicant can no longer become a member.
    declined_at: Mapped[dt.datetime | None] = mapped_column()
    declined_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    decline_reason: Mapped[str] = mapped_column(String(500), default="", server_default="")
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}

    @property
    def legal_name(self) -> str:
        return " ".join(p for p in (self.first_name, self.middle_name, self.last_name) if p)

    @property
    def is_pending(self) -> bool:
        return self.member_id is None and self.declined_at is None


class RecapEntry(Base):
    """A member created from an applicant, waiting for (or included in) a weekly recap."""

    __tablename__ = "new_member_recap"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), unique=True)
    applicant_id: Mapped[int | None] = mapped_column(ForeignKey("applicants.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[dt.datetime | None] = mapped_column(index=True)
