"""The member's photo on the mobile card, inline so the offline card keeps it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from server.cards.payload import PayloadBuild, PayloadPart
from server.members.models import Member
from server.photos.models import MemberPhoto
from server.photos.store import inline


def _current(column: Any) -> Any:
    """``column`` of the member's current photo (the newest unreplaced one), as a column
    of the builder's members statement."""
    return (
        select(column)
        .where(MemberPhoto.member_id == Member.id, MemberPhoto.replaced_at.is_(None))
        .order_by(MemberPhoto.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def apply_photo(build: PayloadBuild, values: tuple[str | None, bytes | None]) -> None:
    content_type, image = values
    build.data["photo"] = inline(content_type, image) if content_type and image else None


photo_part = PayloadPart(
    "photo", (_current(MemberPhoto.content_type), _current(MemberPhoto.image)), apply_photo
)
