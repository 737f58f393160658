"""checks: card payloads remember the check code they carry

Revision ID: 0007
Revises: 0006, 0004_cards (checks now build on the cards tables)
Create Date: 2026-11-21 23:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = ("0006", "0004_cards")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Before ``body``: SQLite keeps a row's columns in order, and the payload body spills
    # onto overflow pages; a column after it costs the live check a walk through them.
    # (PostgreSQL stores large values out of line: there the order does not matter.)
    column = sa.Column("check_code", sa.String(length=200), nullable=True)
    if op.get_bind().dialect.name != "sqlite":
        op.add_column("card_payloads", column)
        return
    with op.batch_alter_table("card_payloads", recreate="always") as batch_op:
        batch_op.add_column(column, insert_before="body")


def downgrade() -> None:
    with op.batch_alter_table("card_payloads", schema=None) as batch_op:
        batch_op.drop_column("check_code")
