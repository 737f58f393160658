"""The member's photo on the mobile card, inline so the offline card keeps it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.cards.payload import PayloadBuild, PayloadPart
from server.photos.models import MemberPhoto
from server.photos.store import data_uri


async def current_photos(db: AsyncSession, member_ids: Sequence[int]) -> Mapping[int, str]:
    """Data URIs of the members' current photos (the newest unreplaced one each)."""
    rows = await db.execute(
        select(MemberPhoto)
        .where(MemberPhoto.member_id.in_(member_ids), MemberPhoto.replaced_at.is_(None))
        .order_by(MemberPhoto.member_id, MemberPhoto.id)
    )
    return {photo.member_id: data_uri(photo) for photo in rows.scalars()}


def apply_photo(build: PayloadBuild, uri: str | None) -> None:
    build.data["photo"] = uri


photo_part = PayloadPart("photo", current_photos, apply_photo)
