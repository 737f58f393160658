"""A lock row per named job, so one instance at a time runs it."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.database import Base


class JobLock(Base):
    __tablename__ = "job_locks"

    name: Mapped[str] = mapped_column(String(80), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(120))
    locked_until: Mapped[dt.datetime | None] = mapped_column()
    last_run_on: Mapped[dt.date | None] = mapped_column(Date)
    last_finished_at: Mapped[dt.datetime | None] = mapped_column()
    last_result: Mapped[str] = mapped_column(Text, default="")
