"""A lock row per named job (one instance at a time) and each job's outcome per date."""

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


class NightlyJobRun(Base):
    """One job's outcome for one date: a job that succeeded for a date is not run
    again for it (unless forced), however many runners start."""

    __tablename__ = "nightly_job_runs"

    job: Mapped[str] = mapped_column(String(120), primary_key=True)
    run_on: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    status: Mapped[str] = mapped_column(String(20))  # succeeded | failed
    holder: Mapped[str] = mapped_column(String(120), default="")
    started_at: Mapped[dt.datetime] = mapped_column()
    finished_at: Mapped[dt.datetime] = mapped_column(index=True)
    summary: Mapped[str] = mapped_column(Text, default="")
