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

from server import clock
from server.cards.payload import PayloadBuild, PayloadPart
from server.checks import codes
from server.checks.keyring import keyring_for
from server.checks.revocations import LATEST_REVOCATION


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


check_part = PayloadPart("check", (LATEST_REVOCATION,), apply_check_code)
