"""The work waiting on the dashboard: counts with links, each only for those who may act.

Every count is one indexed SQL ``COUNT`` (no rows are loaded), so the dashboard stays
cheap on a 100,000-member register. Navigation links count their own work
(``NavLink.waiting``: applicants, membership proofs, a plugin's requests); the counts
that belong to no menu link are here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.mail.models import OutboxMessage
from server.members.models import Member
from server.members.search import EXPIRING_DAYS, has_live_link
from server.web.navigation import NavLink


@dataclass(frozen=True)
class WorkItem:
    count: int
    label: str  # what the count is of, e.g. "applicants to review"
    href: str
    tone: str = ""  # "" or "warn": styling only, the words carry the meaning
    label_one: str = ""  # the words for a count of one, e.g. "applicant to review"

    @property
    def words(self) -> str:
        """What the count is of, in its number ("1 applicant", "2 applicants")."""
        return self.label_one if self.count == 1 and self.label_one else self.label


async def expiring_memberships(db: AsyncSession, today: dt.date) -> int:
    """Members (not deactivated or deleted) whose membership expires within 30 days."""
    count = await db.scalar(
        select(func.count())
        .select_from(Member)
        .where(
            Member.membership_expires_on >= today,
            Member.membership_expires_on <= today + dt.timedelta(days=EXPIRING_DAYS),
            Member.deactivated_at.is_(None),
            Member.deleted_at.is_(None),
        )
    )
    return int(count or 0)


async def without_card_link(db: AsyncSession) -> int:
    """Members who may have a card (not deactivated or deleted) but no live card link."""
    count = await db.scalar(
        select(func.count())
        .select_from(Member)
        .where(Member.deactivated_at.is_(None), Member.deleted_at.is_(None), ~has_live_link())
    )
    return int(count or 0)


async def outbox_by_status(db: AsyncSession) -> dict[str, int]:
    """Outbox rows per status (the ``status, next_attempt_at`` index answers it)."""
    rows = await db.execute(
        select(OutboxMessage.status, func.count())
        .where(OutboxMessage.status.in_(("queued", "failed")))
        .group_by(OutboxMessage.status)
    )
    return {status: int(n) for status, n in rows.all()}


async def work_for(
    db: AsyncSession,
    user: Member,
    perms: frozenset[str],
    today: dt.date,
    links: list[NavLink],
) -> list[WorkItem]:
    """What waits for ``user``: ``links`` are the menu links they see."""
    items: list[WorkItem] = []
    for link in links:
        if link.waiting is None:
            continue
        count = await link.waiting(db, user, perms, today)
        if count is not None:
            items.append(
                WorkItem(
                    count,
                    link.waiting_label or link.label,
                    link.href,
                    label_one=link.waiting_label_one,
                )
            )
    if "verify_members" in perms:
        items.append(
            WorkItem(
                await expiring_memberships(db, today),
                f"memberships expiring within {EXPIRING_DAYS} days",
                "/members?membership=expiring&sort=expiry",
                label_one=f"membership expiring within {EXPIRING_DAYS} days",
            )
        )
    if "issue_card_links" in perms:
        items.append(
            WorkItem(
                await without_card_link(db),
                "members without a live card link",
                "/members?card=none",
                label_one="member without a live card link",
            )
        )
    if user.is_superuser:
        mail = await outbox_by_status(db)
        items.append(
            WorkItem(
                mail.get("queued", 0),
                "emails queued",
                "/admin/outbox?status=queued",
                label_one="email queued",
            )
        )
        failed = mail.get("failed", 0)
        items.append(
            WorkItem(
                failed,
                "emails failed",
                "/admin/outbox?status=failed",
                "warn" if failed else "",
                label_one="email failed",
            )
        )
    return items
