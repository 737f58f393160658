"""How an officer's mail fares: their queued, failing and failed messages, with reasons.

"Their" mail is what they caused (``OutboxMessage.queued_by_id``: the card links they
issued). Reasons are grouped with addresses masked, so a refusal repeated for many
recipients reads as one line with a count.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.mail.models import OutboxMessage

ADDRESS = re.compile(r"<?[^\s<>@]+@[^\s<>@]+>?")
MAX_REASONS = 5


@dataclass
class MailStanding:
    queued: int = 0  # waiting, nothing went wrong yet
    failing: int = 0  # waiting for another try after a passing problem
    failed: int = 0  # refused for good: needs someone to look (and retry)
    reasons: list[tuple[str, str, int]] = field(default_factory=list)  # state, reason, count

    @property
    def anything(self) -> bool:
        return bool(self.queued or self.failing or self.failed)


def _reason(text: str) -> str:
    return ADDRESS.sub("(address)", text.strip().splitlines()[0] if text.strip() else "")[:300]


async def standing_for(db: AsyncSession, member_id: int) -> MailStanding:
    rows = await db.execute(
        select(OutboxMessage.status, OutboxMessage.last_error, func.count())
        .where(
            OutboxMessage.queued_by_id == member_id,
            OutboxMessage.status.in_(("queued", "sending", "failed")),
        )
        .group_by(OutboxMessage.status, OutboxMessage.last_error)
    )
    standing = MailStanding()
    grouped: dict[tuple[str, str], int] = {}
    for status, error, count in rows:
        if status == "failed":
            state = "failed"
        elif status == "queued" and error:
            state = "failing"
        else:
            standing.queued += count
            continue
        setattr(standing, state, getattr(standing, state) + count)
        key = (state, _reason(error or "no reason recorded"))
        grouped[key] = grouped.get(key, 0) + count
    ordered = sorted(grouped.items(), key=lambda item: (item[0][0] != "failed", -item[1]))
    standing.reasons = [(state, reason, n) for (state, reason), n in ordered[:MAX_REASONS]]
    return standing
