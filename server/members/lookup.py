"""Loading the member a URL names, or answering 404."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload
from starlette.exceptions import HTTPException
from starlette.requests import Request

from server.members.models import Member
from server.web.forms import parse_id

# Staff who may look members up in the register (list, detail, audit trail).
REGISTER_PERMISSIONS = ("manage_members", "verify_members", "issue_card_links")
# Who may open the member list: those, and holders of ``export_members`` (an exchequer
# filters the list to export it; the rows then name members without linking them).
LIST_PERMISSIONS = (*REGISTER_PERMISSIONS, "export_members")


async def member_or_404(db: AsyncSession, raw_id: str | None) -> Member:
    """The member with this id (soft-deleted ones too: their history stays readable)."""
    member_id = parse_id(raw_id)
    member = None
    if member_id is not None:
        member = (
            await db.execute(
                select(Member)
                .where(Member.id == member_id)
                .options(selectinload(Member.branch), selectinload(Member.parent))
                .execution_options(populate_existing=True)
            )
        ).scalar_one_or_none()
    if member is None:
        raise HTTPException(404, "There is no member with this number.")
    return member


async def path_member(request: Request) -> Member:
    return await member_or_404(request.state.db, request.path_params.get("member_id"))
