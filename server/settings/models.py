"""App settings stored in the database (declared in server.settings.registry)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from server.database import Base, utcnow


class SettingValue(Base):
    __tablename__ = "app_settings"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    modified_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    modified_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
