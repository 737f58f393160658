"""The marshal QR on the mobile card: a fresh check code in every card payload.

The payload is rebuilt at least every hour (``PayloadBuild.valid_until``), so the code
is renewed as the card refreshes; each code is valid for 72 hours, so a card that goes
offline keeps a usable code for a weekend. Within an hour the code — and so the card's
ETag — stays the same (hour-bucketed issue time, deterministic Ed25519).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.cards.payload import PayloadBuild, PayloadPart
from server.checks import codes, qr
from server.checks.keyring import keyring_for
from server.checks.models import CodeRevocation


async def latest_revocations(
    db: AsyncSession, member_ids: Sequence[int]
) -> Mapping[int, dt.datetime]:
    rows = await db.execute(
        select(CodeRevocation.member_id, func.max(CodeRevocation.revoked_before))
        .where(CodeRevocation.member_id.in_(member_ids))
        .group_by(CodeRevocation.member_id)
    )
    return {member_id: moment for member_id, moment in rows.all() if moment is not None}


def apply_check_code(build: PayloadBuild, revoked_before: dt.datetime | None) -> None:
    ring = keyring_for(build.settings.data_dir)
    code = codes.mobile_code(ring, build.member.public_id, build.now, revoked_before)
    build.check_code = code
    url = codes.check_url(build.settings.base_url, code)
    valid_until = codes.issue_time(build.now, revoked_before) + codes.MOBILE_VALIDITY
    build.data["check"] = {
        "qr": qr.svg_data_uri(url),
        "url": url,
        "valid_until": valid_until.isoformat(),
        "caption": "Marshals: scan to check this card live. "
        f"Code valid until {valid_until:%Y-%m-%d %H:%M} UTC.",
    }
    next_hour = codes.hour_floor(build.now) + dt.timedelta(hours=1)
    build.valid_until = min(build.valid_until, int(next_hour.timestamp()))


check_part = PayloadPart("check", latest_revocations, apply_check_code)
