"""Membership proofs as history: every upload stays, with what the office decided."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.database import Base, utcnow

PENDING = "pending"
VERIFIED = "verified"
REJECTED = "rejected"
REPLACED = "replaced"  # the member uploaded a newer proof before this one was decided
STATUSES = (PENDING, VERIFIED, REJECTED, REPLACED)


class MembershipProof(Base):
    __tablename__ = "membership_proofs"
    __table_args__ = (Index("ix_membership_proofs_status_submitted", "status", "submitted_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    # What the member typed; the office enters the verified number and expiry itself.
    membership_number: Mapped[str] = mapped_column(String(40))
    expires_on: Mapped[dt.date | None] = mapped_column(Date)
    image: Mapped[bytes] = mapped_column(LargeBinary)  # re-encoded JPEG, metadata stripped
    content_type: Mapped[str] = mapped_column(String(40), default="image/jpeg")
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    submitted_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(20), default=PENDING)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    decided_at: Mapped[dt.datetime | None] = mapped_column()
    reject_reason: Mapped[str] = mapped_column(Text, default="")
    # Optimistic concurrency: two officers deciding at once cannot both succeed.
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}

    @property
    def is_pending(self) -> bool:
        return self.status == PENDING
