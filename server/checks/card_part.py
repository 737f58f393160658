"""The marshal QR on the mobile card: a fresh check code in every card payload.

The payload is rebuilt at least every hour (``PayloadBuild.valid_until``), so the code
is renewed as the card refreshes; each code is valid for 72 hours, so a card that goes
offline keeps a usable code for a weekend. Within an hour the code — and so the card's
ETag — stays the same (hour-bucketed issue time, deterministic Ed25519).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from server.cards.payload import PayloadBuild, register_part
from server.checks import codes, qr, runtime
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
    url = codes.check_url(settings.base_url, code)
    valid_until = codes.issue_time(now, revoked_before) + codes.MOBILE_VALIDITY
    build.data["check"] = {
        "qr": qr.svg_data_uri(url),
        "url": url,
        "valid_until": valid_until.isoformat(),
        "caption": "Marshals: scan to check this card live. "
        f"Code valid until {valid_until:%Y-%m-%d %H:%M} UTC.",
    }
    next_hour = codes.hour_floor(now) + dt.timedelta(hours=1)
    build.valid_until = min(build.valid_until, int(next_hour.timestamp()))
