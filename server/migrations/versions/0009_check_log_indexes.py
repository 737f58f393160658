"""checks: the check log keeps only indexes that append

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-22 01:00:00

``(member_id, checked_at)`` took a random insert per check (a page written per row) and
``checker_id`` served no query; ``checked_at`` gains ``member_id`` so a member's checks
in a time window are found in the index. ``client_ref`` (only uploaded entries have
one) is unique where it is set, so online checks add nothing to that index.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SET = sa.text("client_ref IS NOT NULL")


def upgrade() -> None:
    with op.batch_alter_table("check_log", schema=None) as batch_op:
        batch_op.drop_constraint("uq_check_log_client_ref", type_="unique")
        batch_op.drop_index("ix_check_log_member_checked")
        batch_op.drop_index("ix_check_log_checker_id")
        batch_op.drop_index("ix_check_log_checked_at")
        batch_op.create_index("ix_check_log_checked_member", ["checked_at", "member_id"])
        batch_op.create_index(
            "uq_check_log_client_ref",
            ["client_ref"],
            unique=True,
            sqlite_where=SET,
            postgresql_where=SET,
        )


def downgrade() -> None:
    with op.batch_alter_table("check_log", schema=None) as batch_op:
        batch_op.drop_index("uq_check_log_client_ref")
        batch_op.drop_index("ix_check_log_checked_member")
        batch_op.create_index("ix_check_log_checked_at", ["checked_at"])
        batch_op.create_index("ix_check_log_checker_id", ["checker_id"])
        batch_op.create_index("ix_check_log_member_checked", ["member_id", "checked_at"])
        batch_op.create_unique_constraint("uq_check_log_client_ref", ["client_ref"])
