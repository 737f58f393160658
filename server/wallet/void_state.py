"""When a pass counts as void: from the moment its card link is revoked or replaced.

The wallet loop writes the void itself (``voided_at``, the audit row, the pushes and
Google's update) within seconds, or never when background jobs are off and no phone
asks; the check must not wait for it. The live check and the offline scanners'
revocation list read this expression, so a pass's code is refused as soon as the
revoking transaction commits, as the README promises.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, or_

from server.cards.models import CardLink
from server.wallet.models import WalletPass

# Read with ``CardLink`` joined on ``WalletPass.card_link_id``.
PASS_IS_VOID: ColumnElement[bool] = or_(
    WalletPass.voided_at.is_not(None), CardLink.revoked_at.is_not(None)
)
