"""The member's photo on the mobile card, inline so the offline card keeps it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.cards.payload import PayloadBuild, PayloadPart
from server.photos.models import MemberPhoto
from server.photos.store import data_uri

_CURRENT = (
    select(MemberPhoto)
    .where(
        MemberPhoto.member_id.in_(bindparam("ids", expanding=True)),
        MemberPhoto.replaced_at.is_(None),
    )
    .order_by(MemberPhoto.member_id, MemberPhoto.id)
)


async def current_photos(db: AsyncSession, member_ids: Sequence[int]) -> Mapping[int, str]:
    """Data URIs of the members' current photos (the newest unreplaced one each)."""
    rows = await db.execute(_CURRENT, {"ids": list(member_ids)})
    return {photo.member_id: data_uri(photo) for photo in rows.scalars()}


def apply_photo(build: PayloadBuild, uri: str | None) -> None:
    build.data["photo"] = uri


photo_part = PayloadPart("photo", current_photos, apply_photo)
