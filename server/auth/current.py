"""The logged-in member: the signed cookie's session id, checked against the server.

The cookie holds ``sid`` (and ``uid``, which only tells the check page that a session
may be worth looking up); whether the session still works is decided by its
``login_sessions`` row (``server.auth.sessions``).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from server.auth import sessions
from server.database import utcnow
from server.members.models import Member
from server.members.status import LOGIN_STATUSES


async def start_session(request: Request, db: AsyncSession, member: Member) -> None:
    """A fresh session at login: nothing from before it survives (the browser's previous
    session, if any, ends). The caller commits."""
    previous = request.session.get("sid")
    if isinstance(previous, str):
        await sessions.end(db, previous, "replaced")
    sid = await sessions.begin(db, member, request.headers.get("user-agent", ""))
    request.session.clear()
    request.session["sid"] = sid
    request.session["uid"] = member.id


async def end_session(request: Request, db: AsyncSession, reason: str = "logout") -> None:
    """End this browser's session on the server and forget the cookie. The caller commits."""
    sid = request.session.get("sid") if "session" in request.scope else None
    if isinstance(sid, str):
        await sessions.end(db, sid, reason)
    if "session" in request.scope:
        request.session.clear()


async def current_user(request: Request, session: AsyncSession) -> Member | None:
    if "session" not in request.scope:
        return None
    sid = request.session.get("sid")
    if not isinstance(sid, str):
        for stale in ("uid", "fp"):  # a cookie from before server-side sessions
            request.session.pop(stale, None)
        return None
    now = utcnow()
    found = await sessions.lookup(session, sid, now)
    if found is None or found[1].is_deleted or found[1].status not in LOGIN_STATUSES:
        request.session.clear()
        return None
    login, member = found
    if not await sessions.touch(session, login, now):
        request.session.clear()
        return None
    return member
