"""Stored photos. A new upload replaces the current one; earlier photos are kept."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from server.database import Base, utcnow


class MemberPhoto(Base):
    __tablename__ = "member_photos"
    __table_args__ = (Index("ix_member_photos_member_replaced", "member_id", "replaced_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"))
    image: Mapped[bytes] = mapped_column(LargeBinary)  # JPEG, metadata stripped
    content_type: Mapped[str] = mapped_column(String(40), default="image/jpeg")
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    digest: Mapped[str] = mapped_column(String(64))  # SHA-256 of ``image``: the ETag
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    uploaded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    replaced_at: Mapped[dt.datetime | None] = mapped_column()
