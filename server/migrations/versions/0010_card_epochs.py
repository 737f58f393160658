"""cards: whole-register invalidations as epochs; indexes that find stale payloads

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 12:00:00

A change that concerns every card (an app setting, a retired check key) adds a row to
``card_epochs`` instead of rewriting every payload row; a payload built before the
newest epoch is stale. ``valid_until`` and ``epoch`` are indexed so the background
rebuilder finds stale payloads without reading the whole table.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.database

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = server.database.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "card_epochs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["members.id"], name=op.f("fk_card_epochs_created_by_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_epochs")),
    )
    with op.batch_alter_table("card_payloads", schema=None) as batch_op:
        batch_op.add_column(sa.Column("epoch", sa.Integer(), nullable=False, server_default="0"))
        batch_op.create_index(batch_op.f("ix_card_payloads_valid_until"), ["valid_until"])
        batch_op.create_index(batch_op.f("ix_card_payloads_epoch"), ["epoch"])


def downgrade() -> None:
    with op.batch_alter_table("card_payloads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_card_payloads_epoch"))
        batch_op.drop_index(batch_op.f("ix_card_payloads_valid_until"))
        batch_op.drop_column("epoch")
    op.drop_table("card_epochs")
