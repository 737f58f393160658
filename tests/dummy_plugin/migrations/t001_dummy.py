"""Dummy plugin: badges (its own branch, like every plugin's migrations).

Revision ID: t001_dummy
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "t001_dummy"
down_revision = "0001"
branch_labels = ("dummy",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dummy_badges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("until", sa.Date(), nullable=False),
        sa.Column("retired", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_dummy_badges"),
    )
    op.create_index("ix_dummy_badges_member_id", "dummy_badges", ["member_id"])


def downgrade() -> None:
    op.drop_index("ix_dummy_badges_member_id", table_name="dummy_badges")
    op.drop_table("dummy_badges")
