"""checks: check log, code revocations, member photos

Revision ID: 0006
Revises: 0001
Create Date: 2026-11-21 19:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.database

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = ("checks",)
depends_on: str | Sequence[str] | None = None

UTC = server.database.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "check_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("checked_at", UTC, nullable=False),
        sa.Column("recorded_at", UTC, nullable=False),
        sa.Column("checker_id", sa.Integer(), nullable=True),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("result", sa.String(length=40), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("code_issued_at", UTC, nullable=True),
        sa.Column("key_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("client_ref", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["checker_id"], ["members.id"], name=op.f("fk_check_log_checker_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_check_log_member_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_check_log")),
        sa.UniqueConstraint("client_ref", name=op.f("uq_check_log_client_ref")),
    )
    with op.batch_alter_table("check_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_check_log_checked_at"), ["checked_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_check_log_checker_id"), ["checker_id"], unique=False)
        batch_op.create_index(
            "ix_check_log_member_checked", ["member_id", "checked_at"], unique=False
        )

    op.create_table(
        "check_code_revocations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("revoked_before", UTC, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("revoked_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_check_code_revocations_member_id_members"),
        ),
        sa.ForeignKeyConstraint(
            ["revoked_by_id"],
            ["members.id"],
            name=op.f("fk_check_code_revocations_revoked_by_id_members"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_check_code_revocations")),
    )
    with op.batch_alter_table("check_code_revocations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_check_code_revocations_member_id"), ["member_id"], unique=False
        )

    op.create_table(
        "member_photos",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("image", sa.LargeBinary(), nullable=False),
        sa.Column("content_type", sa.String(length=40), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("uploaded_by_id", sa.Integer(), nullable=True),
        sa.Column("uploaded_at", UTC, nullable=False),
        sa.Column("replaced_at", UTC, nullable=True),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_member_photos_member_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by_id"],
            ["members.id"],
            name=op.f("fk_member_photos_uploaded_by_id_members"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_photos")),
    )
    with op.batch_alter_table("member_photos", schema=None) as batch_op:
        batch_op.create_index(
            "ix_member_photos_member_replaced", ["member_id", "replaced_at"], unique=False
        )


def downgrade() -> None:
    op.drop_table("member_photos")
    op.drop_table("check_code_revocations")
    op.drop_table("check_log")
