"""The marshal QR on the mobile card: the check URL in every card payload.

The payload carries the URL, not a drawing: the card app draws the QR code from it
(``pwa/card.js``, online and offline), so a rebuild costs no image work on the server.
The code is issued per UTC day (``codes.mobile_issue_time``) and valid 72 hours, so
within a day the code — and so the card's ETag — stays the same; the payload expires
at the end of the code's UTC day at the latest, so a saved card carries a code valid
for at least two more days.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from server.cards.payload import PayloadBuild, register_part
from server.checks import codes, runtime
from server.checks.keyring import keyring_for
from server.checks.revocations import latest_revocation
from server.database import utcnow


@register_part
async def check_code_part(db: AsyncSession, build: PayloadBuild) -> None:
    settings = runtime.settings_for(db.get_bind())
    ring = keyring_for(settings.data_dir)
    now = utcnow()
    revoked_before = await latest_revocation(db, build.member.id)
    code = codes.mobile_code(ring, build.member.public_id, now, revoked_before)
    build.check_code = code
    valid_until = codes.mobile_issue_time(now, revoked_before) + codes.MOBILE_VALIDITY
    build.data["check"] = {
        "url": codes.check_url(settings.base_url, code),
        "valid_until": valid_until.isoformat(),
        "caption": "Marshals: scan to check this card live. "
        f"Code valid until {valid_until:%Y-%m-%d %H:%M} UTC.",
    }
    # Where the organisation's midnight is not UTC midnight, the code's day ends first.
    day_end = codes.day_floor(now) + dt.timedelta(days=1)
    build.valid_until = min(build.valid_until, int(day_end.timestamp()))
