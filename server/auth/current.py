"""The logged-in member, read from the signed session cookie."""

from __future__ import annotations

import hashlib

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from server.members.models import Member
from server.members.status import LOGIN_STATUSES


def session_fingerprint(member: Member) -> str:
    """Changes when the password does, which ends every other session."""
    return hashlib.sha256((member.password_hash or "").encode()).hexdigest()[:16]


def start_session(request: Request, member: Member) -> None:
    """A fresh session at login: nothing from before it survives."""
    request.session.clear()
    request.session["uid"] = member.id
    request.session["fp"] = session_fingerprint(member)


async def current_user(request: Request, session: AsyncSession) -> Member | None:
    if "session" not in request.scope:
        return None
    uid = request.session.get("uid")
    if not isinstance(uid, int):
        return None
    member = await session.get(Member, uid)
    if (
        member is None
        or member.is_deleted
        or member.status not in LOGIN_STATUSES
        or request.session.get("fp") != session_fingerprint(member)
    ):
        request.session.clear()
        return None
    return member
