"""The member's photo on the mobile card, inline so the offline card keeps it."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from server.cards.payload import PayloadBuild, register_part
from server.photos.store import photo_data_uri


@register_part
async def photo_part(db: AsyncSession, build: PayloadBuild) -> None:
    build.data["photo"] = await photo_data_uri(db, build.member.id)
