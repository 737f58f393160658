"""office: membership proofs; member indexes for the dashboard and the sortable register

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 13:00:00

``membership_proofs`` keeps every membership-card image a member uploads with the
office's decision (pending, verified, rejected with a reason, replaced). The register
sorts by membership expiry and last change, and the dashboard counts memberships
expiring soon: both columns get an index; (status, deleted_at) covers the counts of
members by status and the list's totals.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.database

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = server.database.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "membership_proofs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("membership_number", sa.String(length=40), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.Column("image", sa.LargeBinary(), nullable=False),
        sa.Column("content_type", sa.String(length=40), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("submitted_at", UTC, nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", UTC, nullable=True),
        sa.Column("reject_reason", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_membership_proofs_member_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"],
            ["members.id"],
            name=op.f("fk_membership_proofs_decided_by_id_members"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_membership_proofs")),
    )
    with op.batch_alter_table("membership_proofs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_membership_proofs_member_id"), ["member_id"], unique=False
        )
        batch_op.create_index(
            "ix_membership_proofs_status_submitted", ["status", "submitted_at"], unique=False
        )
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_members_membership_expires_on"), ["membership_expires_on"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_members_modified_at"), ["modified_at"], unique=False)
        batch_op.create_index("ix_members_status_deleted", ["status", "deleted_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_index("ix_members_status_deleted")
        batch_op.drop_index(batch_op.f("ix_members_modified_at"))
        batch_op.drop_index(batch_op.f("ix_members_membership_expires_on"))
    op.drop_table("membership_proofs")
