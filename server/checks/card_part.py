"""The marshal QR on the mobile card: the check URL in every card payload.

The payload carries the URL, not a drawing: the card app draws the QR code from it
(``pwa/card.js``, online and offline), so a rebuild costs no image work on the server.
The code is issued per day — from the organisation's midnight, when the payload
expires anyway (``server.clock``) — and valid 72 hours, so within a day the code, and
so the card's ETag, stays the same, and a card saved on a phone carries a code valid
for at least two more days.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server import clock
from server.cards.payload import PayloadBuild, PayloadPart
from server.checks import codes
from server.checks.keyring import keyring_for
from server.checks.models import CodeRevocation
from server.members.models import Member

_LATEST = (
    select(CodeRevocation.member_id, func.max(CodeRevocation.revoked_before))
    .where(CodeRevocation.member_id.in_(bindparam("ids", expanding=True)))
    .group_by(CodeRevocation.member_id)
)


async def latest_revocations(
    db: AsyncSession, member_ids: Sequence[int]
) -> Mapping[int, dt.datetime]:
    rows = await db.execute(_LATEST, {"ids": list(member_ids)})
    return {member_id: moment for member_id, moment in rows.all() if moment is not None}


def apply_check_code(build: PayloadBuild, values: tuple[dt.datetime | None]) -> None:
    (revoked_before,) = values
    ring = keyring_for(build.settings.data_dir)
    day_start = clock.day_start(build.site, build.today)
    code = codes.mobile_code(ring, build.member.public_id, build.now, revoked_before, day_start)
    build.check_code = code
    valid_until = codes.mobile_issue_time(build.now, revoked_before, day_start)
    valid_until += codes.MOBILE_VALIDITY
    build.data["check"] = {
        "url": codes.check_url(build.settings.base_url, code),
        "valid_until": valid_until.isoformat(),
        "caption": "Marshals: scan to check this card live. "
        f"Code valid until {clock.stamp(build.site.get('time_zone') or '', valid_until)}.",
    }


# The member's latest revocation, as a column of the builder's members statement.
_LATEST_OF_MEMBER = (
    select(func.max(CodeRevocation.revoked_before))
    .where(CodeRevocation.member_id == Member.id)
    .scalar_subquery()
)
check_part = PayloadPart("check", (_LATEST_OF_MEMBER,), apply_check_code)
