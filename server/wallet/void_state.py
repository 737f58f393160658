"""When a pass counts as void: from the moment its card link is revoked or replaced.

The wallet loop writes the void itself (``voided_at``, the audit row, the pushes and
Google's update) within seconds, or never when background jobs are off and no phone
asks; the check must not wait for it. The live check and the offline scanners'
revocation list read this expression, so a pass's code is refused as soon as the
revoking transaction commits, as the README promises.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, or_, select

from server.cards.models import CardLink
from server.wallet.models import WalletPass

# A column of any statement over ``WalletPass`` (its card link read as a correlated
# subquery, so no caller has to join it).
PASS_IS_VOID: ColumnElement[bool] = or_(
    WalletPass.voided_at.is_not(None),
    select(CardLink.revoked_at)
    .where(CardLink.id == WalletPass.card_link_id)
    .scalar_subquery()
    .is_not(None),
)
