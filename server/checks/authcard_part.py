"""The QR on the printed auth card: a check code valid until the membership expires."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from server.checks import codes, qr, runtime
from server.checks.keyring import keyring_for
from server.checks.revocations import latest_revocation
from server.database import utcnow
from server.members.models import Member
from server.settings.store import get_setting


async def printed_check_qr(db: AsyncSession, member: Member, base_url: str) -> str | None:
    """Inline SVG of ``BASE_URL/check/{code}``, the code valid until the membership's last
    day ends where the organisation is (at most a year). Staff revoke it (lost card) on
    the member's checks page."""
    if member.deleted_at is not None:
        return None
    settings = runtime.settings_for(db.get_bind())
    ring = keyring_for(settings.data_dir)
    revoked_before = await latest_revocation(db, member.id)
    site = {"time_zone": await get_setting(db, "time_zone")}
    code = codes.printed_code(
        ring, member.public_id, utcnow(), member.membership_expires_on, revoked_before, site
    )
    return qr.svg_inline(codes.check_url(base_url, code))
