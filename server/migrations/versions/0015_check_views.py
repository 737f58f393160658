"""cards: the marshal's view of a member, prebuilt with the card payload

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30 13:00:00

``check_view`` holds what a marshal's live check shows besides the result (status,
membership expiry, photo, the check page's plugin sections), built and invalidated
with the card payload, so a logged-in check reads one row instead of running the
plugins' queries.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("card_payloads", schema=None) as batch_op:
        batch_op.add_column(sa.Column("check_view", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("card_payloads", schema=None) as batch_op:
        batch_op.drop_column("check_view")
