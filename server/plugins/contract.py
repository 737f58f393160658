"""The plugin contract: everything a plugin may contribute, in one place.

A plugin is a module under ``server/plugins/<key>/`` (or any importable module, for
tests) exposing ``plugin: Plugin``. Plugins are enabled by the ``enabled_plugins`` app
setting; disabled plugins contribute nothing at request time. Core card parts use the
same section mechanism (see ``server.cards``).

Card sections are structured data — key, title, order, rows — rendered by Tessera's
own templates (mobile card, auth card, check page), never raw HTML from a plugin.
Order is deterministic: ``(order, key)``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.routing import BaseRoute

from server.auth.permissions import Permission
from server.nightly.registry import NightlyJob
from server.settings.registry import SettingDef
from server.web.navigation import NavLink

if TYPE_CHECKING:
    from server.members.models import Member


class SectionContext(StrEnum):
    """Where a section is shown."""

    MOBILE_CARD = "mobile_card"
    AUTH_CARD = "auth_card"
    CHECK_PAGE = "check_page"


@dataclass(frozen=True)
class Row:
    """One line of a section: a label, a value, an optional note and a tone."""

    label: str
    value: str = ""
    note: str = ""  # e.g. "expires 2027-05-01" or "no expiry"
    group: str = ""  # rows with the same group are shown under that heading
    tone: str = ""  # "", "ok", "warn", "bad": styling only; the words carry the meaning

    def as_dict(self) -> dict[str, str]:
        return {
            "label": self.label,
            "value": self.value,
            "note": self.note,
            "group": self.group,
            "tone": self.tone,
        }


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    order: int = 100
    rows: tuple[Row, ...] = ()
    empty_text: str = ""  # shown when there are no rows; a section with neither is hidden

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "order": self.order,
            "rows": [r.as_dict() for r in self.rows],
            "empty_text": self.empty_text,
        }


SectionProvider = Callable[
    [AsyncSession, "Member", SectionContext, dt.date], Awaitable[Sequence[Section]]
]


@dataclass
class Plugin:
    """What a plugin contributes. Every field is optional."""

    key: str
    name: str
    sections: SectionProvider | None = None
    routes: list[BaseRoute] = field(default_factory=list)
    nav_links: list[NavLink] = field(default_factory=list)
    settings: list[SettingDef] = field(default_factory=list)
    permissions: list[Permission] = field(default_factory=list)
    # Importable module names holding the plugin's SQLAlchemy models; the plugin's
    # Alembic revisions live in ``<plugin package>/migrations/`` as their own branch.
    model_modules: list[str] = field(default_factory=list)
    nightly_jobs: list[NightlyJob] = field(default_factory=list)
    # Extra demo data: ``async def (db, today) -> None``.
    demo: Callable[[AsyncSession, dt.date], Awaitable[None]] | None = None
