"""cards: card links (hashed tokens), precomputed card payloads, bulk issuing jobs

Revision ID: 0004_cards
Revises: 0001
Create Date: 2026-11-21 19:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.database

revision: str = "0004_cards"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = ("cards",)
depends_on: str | Sequence[str] | None = None

UTC = server.database.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "card_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("live_member_id", sa.Integer(), nullable=True),
        sa.Column("issued_at", UTC, nullable=False),
        sa.Column("issued_by_id", sa.Integer(), nullable=True),
        sa.Column("issued_via", sa.String(length=40), nullable=False),
        sa.Column("revoked_at", UTC, nullable=True),
        sa.Column("revoked_by_id", sa.Integer(), nullable=True),
        sa.Column("revoke_reason", sa.Text(), nullable=False),
        sa.Column("last_used_at", UTC, nullable=True),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_card_links_member_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["issued_by_id"], ["members.id"], name=op.f("fk_card_links_issued_by_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["revoked_by_id"], ["members.id"], name=op.f("fk_card_links_revoked_by_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_links")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_card_links_token_hash")),
        sa.UniqueConstraint("live_member_id", name=op.f("uq_card_links_live_member_id")),
    )
    op.create_index(op.f("ix_card_links_member_id"), "card_links", ["member_id"], unique=False)
    op.create_table(
        "card_payloads",
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("etag", sa.String(length=40), nullable=True),
        sa.Column("valid_until", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_card_payloads_member_id_members")
        ),
        sa.PrimaryKeyConstraint("member_id", name=op.f("pk_card_payloads")),
    )
    op.create_table(
        "card_issue_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("branch_id", sa.Integer(), nullable=True),
        sa.Column("statuses", sa.JSON(), nullable=False),
        sa.Column("replace_existing", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("skipped_deactivated", sa.Integer(), nullable=False),
        sa.Column("heartbeat_at", UTC, nullable=False),
        sa.Column("finished_at", UTC, nullable=True),
        sa.Column("error", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["members.id"], name=op.f("fk_card_issue_jobs_created_by_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["branch_id"], ["branches.id"], name=op.f("fk_card_issue_jobs_branch_id_branches")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_card_issue_jobs")),
    )


def downgrade() -> None:
    op.drop_table("card_issue_jobs")
    op.drop_table("card_payloads")
    op.drop_index(op.f("ix_card_links_member_id"), table_name="card_links")
    op.drop_table("card_links")
