"""Admin navigation links; core areas and plugins add theirs the same way."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NavLink:
    label: str
    href: str
    permission: str | None = None  # shown only to holders; None: every staff member
    order: int = 100
    plugin: str | None = None  # set by the plugin registry; hidden while that plugin is off


_LINKS: dict[str, NavLink] = {}


def add(link: NavLink) -> None:
    _LINKS[link.href] = link


def remove(href: str) -> None:
    _LINKS.pop(href, None)


def links() -> list[NavLink]:
    return sorted(_LINKS.values(), key=lambda link: (link.order, link.label))
