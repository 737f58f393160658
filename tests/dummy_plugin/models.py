"""The dummy plugin's one table.

It uses its own metadata (not ``Base``) only because the plugin is installed for a few
tests and must not leak into the schema comparison of ``test_migrations`` (so
``member_id`` carries no foreign key: ``members`` is in the other metadata); a real
plugin's models subclass ``server.database.Base``.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Date, MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from server.database import NAMING_CONVENTION


class DummyBase(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class DummyBadge(DummyBase):
    __tablename__ = "dummy_badges"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(index=True)
    name: Mapped[str] = mapped_column(String(100))
    until: Mapped[dt.date] = mapped_column(Date)
    retired: Mapped[bool] = mapped_column(Boolean, default=False)
