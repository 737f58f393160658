"""The plugin contract: everything a plugin may contribute, in one place.

A plugin is a package under ``server/plugins/<key>/`` (or any importable module, for
tests) exposing ``plugin: Plugin``. Plugins are enabled by the ``enabled_plugins`` app
setting; a disabled plugin contributes nothing at request time (its sections vanish,
its routes answer 404, its navigation links are hidden, its nightly jobs and demo data
are skipped). Core card parts use the same section mechanism with
``always_enabled=True``.

Card sections are structured data — key, title, order, rows — rendered by Tessera's
own templates (mobile card, auth card, check page), never raw HTML from a plugin.
Order is deterministic: ``(order, key)``. Every hook is documented with its signature
in the README ("Writing a plugin"); ``tests/test_plugin_contract.py`` fails when one
is not.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.routing import BaseRoute

from server.auth.permissions import Permission
from server.demo.registry import DemoData
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
    # The row's last valid day: a card saved on a phone marks the row expired once the
    # organisation's date passes it (offline, where nobody rebuilds the card).
    expires_on: dt.date | None = None

    def as_dict(self) -> dict[str, str]:
        row = {
            "label": self.label,
            "value": self.value,
            "note": self.note,
            "group": self.group,
            "tone": self.tone,
        }
        if self.expires_on is not None:
            row["expires_on"] = self.expires_on.isoformat()
        return row


@dataclass(frozen=True)
class Section:
    """A titled list of rows; ``key`` is unique per card and stable (JSON consumers use it)."""

    key: str
    title: str
    order: int = 100
    rows: tuple[Row, ...] = ()
    empty_text: str = ""  # shown when there are no rows; a section with neither is hidden

    @property
    def visible(self) -> bool:
        return bool(self.rows or self.empty_text)

    def grouped(self) -> list[tuple[str, list[Row]]]:
        """Rows under their group headings, in row order (for templates)."""
        groups: list[tuple[str, list[Row]]] = []
        for row in self.rows:
            if not groups or groups[-1][0] != row.group:
                groups.append((row.group, []))
            groups[-1][1].append(row)
        return groups

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "order": self.order,
            "rows": [r.as_dict() for r in self.rows],
            "empty_text": self.empty_text,
        }


# async def sections(db, member, context, today) -> Sequence[Section]
SectionProvider = Callable[
    [AsyncSession, "Member", SectionContext, dt.date], Awaitable[Sequence[Section]]
]
# async def bulk_sections(db, members, context, today) -> Mapping[member id, Sequence[Section]]
BulkSectionProvider = Callable[
    [AsyncSession, Sequence["Member"], SectionContext, dt.date],
    Awaitable[Mapping[int, Sequence[Section]]],
]
# async def demo(db, demo: DemoData) -> None
DemoHook = Callable[[AsyncSession, DemoData], Awaitable[None]]


@dataclass
class Plugin:
    """What a plugin contributes. Every field but ``key`` and ``name`` is optional.

    Each field is a hook documented in the README; adding a field here without
    documenting and testing it fails ``tests/test_plugin_contract.py``.
    """

    key: str
    name: str
    sections: SectionProvider | None = None
    # The same sections for many members at once (batch printing); must agree with
    # ``sections``. Optional: without it ``sections`` is called per member.
    bulk_sections: BulkSectionProvider | None = None
    # True: the sections are the same in every context. A card built with the marshal's
    # view of it needs both contexts' sections; Tessera then asks the plugin once.
    same_sections_in_every_context: bool = False
    routes: list[BaseRoute] = field(default_factory=list)
    nav_links: list[NavLink] = field(default_factory=list)
    settings: list[SettingDef] = field(default_factory=list)
    permissions: list[Permission] = field(default_factory=list)
    # Importable module names holding the plugin's SQLAlchemy models.
    model_modules: list[str] = field(default_factory=list)
    # The folder of the plugin's hand-written Alembic revisions (their own branch).
    migrations: Path | None = None
    nightly_jobs: list[NightlyJob] = field(default_factory=list)
    demo: DemoHook | None = None
    # Core parts built on the contract: on whatever ``enabled_plugins`` says.
    always_enabled: bool = False
