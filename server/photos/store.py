"""Saving and finding members' photos."""

from __future__ import annotations

import base64
import hashlib

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.audit.log import record
from server.cards.invalidation import invalidate
from server.database import utcnow
from server.photos.images import Photo
from server.photos.models import MemberPhoto


async def current_photo(db: AsyncSession, member_id: int) -> MemberPhoto | None:
    return (
        await db.execute(
            select(MemberPhoto)
            .where(MemberPhoto.member_id == member_id, MemberPhoto.replaced_at.is_(None))
            .order_by(MemberPhoto.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()


async def save_photo(db: AsyncSession, member_id: int, photo: Photo, actor_id: int | None) -> None:
    """Make ``photo`` the member's photo; the earlier one is kept, marked replaced."""
    now = utcnow()
    await db.execute(
        update(MemberPhoto)
        .where(MemberPhoto.member_id == member_id, MemberPhoto.replaced_at.is_(None))
        .values(replaced_at=now)
    )
    row = MemberPhoto(
        member_id=member_id,
        image=photo.data,
        content_type=photo.content_type,
        width=photo.width,
        height=photo.height,
        digest=hashlib.sha256(photo.data).hexdigest(),
        uploaded_by_id=actor_id,
        uploaded_at=now,
    )
    db.add(row)
    await db.flush()
    await invalidate(db, [member_id])
    record(
        db,
        actor_id=actor_id,
        action="member.photo_upload",
        entity=row,
        member_id=member_id,
        after={"width": photo.width, "height": photo.height, "bytes": len(photo.data)},
    )


async def remove_photo(db: AsyncSession, member_id: int, actor_id: int | None) -> bool:
    """Stop showing the member's photo (the row stays, marked replaced)."""
    result = await db.execute(
        update(MemberPhoto)
        .where(MemberPhoto.member_id == member_id, MemberPhoto.replaced_at.is_(None))
        .values(replaced_at=utcnow())
    )
    removed = bool(getattr(result, "rowcount", 0))
    if removed:
        await invalidate(db, [member_id])
        record(
            db,
            actor_id=actor_id,
            action="member.photo_remove",
            entity_type="member_photos",
            member_id=member_id,
        )
    return removed


def data_uri(photo: MemberPhoto) -> str:
    """The photo inline (for the offline card and the check page: no second request)."""
    return inline(photo.content_type, photo.image)


def inline(content_type: str, image: bytes) -> str:
    """A data URI of ``image``."""
    return f"data:{content_type};base64,{base64.b64encode(image).decode()}"


async def photo_data_uri(db: AsyncSession, member_id: int) -> str | None:
    photo = await current_photo(db, member_id)
    return data_uri(photo) if photo else None
