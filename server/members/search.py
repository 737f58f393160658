"""Finding members: the admin list's search, filters and pagination."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from server.members.branches import subtree_ids
from server.members.models import Branch, Member
from server.members.status import BY_KEY
from server.web.forms import parse_id

PAGE_SIZE = 50
MAX_QUERY = 200


@dataclass(frozen=True)
class MemberSearch:
    q: str = ""
    branch_id: int | None = None
    status: str = ""
    page: int = 1

    @classmethod
    def from_query(cls, params: dict[str, str]) -> MemberSearch:
        """Read the query string; anything malformed is ignored rather than refused."""
        page = parse_id(params.get("page")) or 1
        status = params.get("status", "")
        return cls(
            q=params.get("q", "").strip()[:MAX_QUERY].replace("\x00", ""),
            branch_id=parse_id(params.get("branch")),
            status=status if status in BY_KEY else "",
            page=min(page, 100_000),
        )

    def query_string(self, page: int) -> str:
        from urllib.parse import urlencode

        params = {"q": self.q, "branch": self.branch_id or "", "status": self.status}
        return urlencode({k: v for k, v in params.items() if v} | {"page": page})


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def filtered(criteria: MemberSearch, branches: list[Branch]) -> Select[Member]:
    query = select(Member).where(Member.deleted_at.is_(None))
    if criteria.q:
        for word in criteria.q.split()[:6]:
            pattern = f"%{_escape_like(word)}%"
            query = query.where(
                or_(
                    *(
                        column.ilike(pattern, escape="\\")
                        for column in (
                            Member.sca_name,
                            Member.first_name,
                            Member.last_name,
                            Member.email,
                            Member.membership_number,
                        )
                    )
                )
            )
    if criteria.branch_id is not None:
        query = query.where(Member.branch_id.in_(subtree_ids(branches, criteria.branch_id)))
    if criteria.status:
        query = query.where(Member.status == criteria.status)
    return query


async def search(
    db: AsyncSession, criteria: MemberSearch, branches: list[Branch]
) -> tuple[list[Member], int]:
    """One page of matching members (by SCA name, then legal name) and the total count."""
    query = filtered(criteria, branches)
    total = await db.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = await db.execute(
        query.options(selectinload(Member.branch))
        .order_by(func.lower(Member.sca_name), Member.last_name, Member.id)
        .limit(PAGE_SIZE)
        .offset((criteria.page - 1) * PAGE_SIZE)
    )
    return list(rows.scalars()), total
