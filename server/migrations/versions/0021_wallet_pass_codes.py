"""wallet: the check codes a pass showed before its current one

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-01 16:20:00

A pass gets a new check code when the membership is renewed, the signing key rotated or
the code renewed before running out; the earlier code stays valid until it runs out, and
a phone offline since then (or a copy of the earlier pass) still shows it.
``wallet_pass_codes`` keeps those earlier codes, so that voiding the pass refuses them
too. The codes passes show now stay in ``wallet_passes.check_code``; no rows are
inserted.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.database

revision: str = "0021"
down_revision: str | Sequence[str] | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "wallet_pass_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pass_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=200), nullable=False),
        sa.Column("valid_until", server.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["pass_id"],
            ["wallet_passes.id"],
            name=op.f("fk_wallet_pass_codes_pass_id_wallet_passes"),
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_wallet_pass_codes_member_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wallet_pass_codes")),
    )
    with op.batch_alter_table("wallet_pass_codes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_wallet_pass_codes_member_id"), ["member_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("wallet_pass_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_wallet_pass_codes_member_id"))
    op.drop_table("wallet_pass_codes")
