"""Admin navigation links; core areas and plugins add theirs the same way.

Links are shown in groups (``GROUPS`` order, then any other group a plugin names). A link
may count the work waiting behind it (``waiting``): the dashboard shows those counts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from server.members.models import Member

# The menu's groups, in order; a link names one of these (or its own, shown after them).
REGISTER = "Register"
ACTIVITIES = "Activities"
CHECKS = "Checks"
ADMINISTRATION = "Administration"
GROUPS = (REGISTER, ACTIVITIES, CHECKS, ADMINISTRATION)

# ``async def waiting(db, user, perms, today) -> int | None``: how many items wait for this
# viewer behind the link; None when none of them is theirs to act on.
WaitingCounter = Callable[
    ["AsyncSession", "Member", frozenset[str], dt.date], Awaitable[int | None]
]


@dataclass(frozen=True)
class NavLink:
    label: str
    href: str
    # Shown only to holders (a tuple: holders of any of them, as ``@page((a, b))``);
    # None: every staff member.
    permission: str | tuple[str, ...] | None = None
    order: int = 100
    plugin: str | None = None  # set by the plugin registry; hidden while that plugin is off
    group: str = ADMINISTRATION
    waiting: WaitingCounter | None = None
    waiting_label: str = ""  # the dashboard's words for the count, e.g. "applicants to review"
    waiting_label_one: str = ""  # the same for a count of one, e.g. "applicant to review"
    superuser_only: bool = False  # for pages only superusers may open (the outbox)


_LINKS: dict[str, NavLink] = {}


def add(link: NavLink) -> None:
    _LINKS[link.href] = link


def remove(href: str) -> None:
    _LINKS.pop(href, None)


def visible_to(link: NavLink, perms: frozenset[str]) -> bool:
    """Whether a holder of ``perms`` may open the link's page (as far as permissions go)."""
    if link.permission is None:
        return True
    needed = (link.permission,) if isinstance(link.permission, str) else link.permission
    return not perms.isdisjoint(needed)


def links() -> list[NavLink]:
    return sorted(_LINKS.values(), key=lambda link: (link.order, link.label))


def grouped(shown: list[NavLink]) -> list[tuple[str, list[NavLink]]]:
    """``shown`` in menu groups: ``GROUPS`` first, in order, then others by name."""
    by_group: dict[str, list[NavLink]] = {}
    for link in shown:
        by_group.setdefault(link.group, []).append(link)
    names = [g for g in GROUPS if g in by_group] + sorted(set(by_group) - set(GROUPS))
    return [(name, by_group[name]) for name in names]


def current_link(shown: list[NavLink], path: str) -> NavLink | None:
    """The link whose page ``path`` is, or lies under (the longest matching address)."""
    matches = [
        link for link in shown if path == link.href or path.startswith(link.href.rstrip("/") + "/")
    ]
    return max(matches, key=lambda link: len(link.href), default=None)
