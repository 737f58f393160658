"""The QR slot on the front of the auth card.

``create_app`` fills it with the marshal-check area's provider (``fill_qr_slot(provider)``),
``async def provider(db, member, base_url) -> str | None`` returning trusted SVG markup
(the QR of the member's signed check URL), or None to leave the slot empty. Until then
the card shows an empty, labelled box of the same size.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncSession

from server.members.models import Member

QrProvider = Callable[[AsyncSession, Member, str], Awaitable[str | None]]
_provider: list[QrProvider] = []


def fill_qr_slot(provider: QrProvider) -> QrProvider:
    """Register the one QR provider (a later call replaces an earlier one)."""
    _provider[:] = [provider]
    return provider


def qr_provider() -> QrProvider | None:
    return _provider[0] if _provider else None


def clear_qr_slot() -> None:
    _provider.clear()


async def qr_markup(db: AsyncSession, member: Member, base_url: str) -> Markup | None:
    if not _provider:
        return None
    svg = await _provider[0](db, member, base_url)
    return Markup(svg) if svg else None
