"""applicants, member-code agreements and seats, new-member recap

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-21 19:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.database

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = ("applicants",)
depends_on: str | Sequence[str] | None = None

UTC = server.database.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "member_code_agreements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation", sa.String(length=200), nullable=False),
        sa.Column("branch_id", sa.Integer(), nullable=True),
        sa.Column("code", sa.String(length=60), nullable=False),
        sa.Column("code_key", sa.String(length=60), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("seats", sa.Integer(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("modified_at", UTC, nullable=False),
        sa.Column("modified_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["branch_id"],
            ["branches.id"],
            name=op.f("fk_member_code_agreements_branch_id_branches"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["members.id"],
            name=op.f("fk_member_code_agreements_created_by_id_members"),
        ),
        sa.ForeignKeyConstraint(
            ["modified_by_id"],
            ["members.id"],
            name=op.f("fk_member_code_agreements_modified_by_id_members"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_code_agreements")),
        sa.UniqueConstraint("code_key", name=op.f("uq_member_code_agreements_code_key")),
    )
    op.create_index(
        op.f("ix_member_code_agreements_branch_id"), "member_code_agreements", ["branch_id"]
    )

    op.create_table(
        "member_code_seats",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agreement_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("assigned_at", UTC, nullable=False),
        sa.Column("assigned_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["agreement_id"],
            ["member_code_agreements.id"],
            name=op.f("fk_member_code_seats_agreement_id_member_code_agreements"),
        ),
        sa.ForeignKeyConstraint(
            ["assigned_by_id"],
            ["members.id"],
            name=op.f("fk_member_code_seats_assigned_by_id_members"),
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_member_code_seats_member_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_code_seats")),
        sa.UniqueConstraint("member_id", name=op.f("uq_member_code_seats_member_id")),
    )
    op.create_index(
        op.f("ix_member_code_seats_agreement_id"), "member_code_seats", ["agreement_id"]
    )

    op.create_table(
        "applicants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("submitted_at", UTC, nullable=False),
        sa.Column("sca_name", sa.String(length=200), nullable=False),
        sa.Column("first_name", sa.String(length=100), nullable=False),
        sa.Column("middle_name", sa.String(length=100), nullable=False),
        sa.Column("last_name", sa.String(length=100), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("birth_month", sa.Integer(), nullable=True),
        sa.Column("birth_year", sa.Integer(), nullable=True),
        sa.Column("branch_id", sa.Integer(), nullable=True),
        sa.Column("street_address", sa.String(length=200), nullable=False),
        sa.Column("city", sa.String(length=100), nullable=False),
        sa.Column("state", sa.String(length=100), nullable=False),
        sa.Column("zip", sa.String(length=20), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=False),
        sa.Column("member_code", sa.String(length=60), nullable=False),
        sa.Column("code_override", sa.Boolean(), nullable=False),
        sa.Column("terms_accepted_at", UTC, nullable=True),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("member_created_at", UTC, nullable=True),
        sa.Column("member_created_by_id", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["branch_id"], ["branches.id"], name=op.f("fk_applicants_branch_id_branches")
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_applicants_member_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["member_created_by_id"],
            ["members.id"],
            name=op.f("fk_applicants_member_created_by_id_members"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_applicants")),
        sa.UniqueConstraint("member_id", name=op.f("uq_applicants_member_id")),
    )
    op.create_index(op.f("ix_applicants_submitted_at"), "applicants", ["submitted_at"])
    op.create_index(op.f("ix_applicants_branch_id"), "applicants", ["branch_id"])
    op.create_index(op.f("ix_applicants_code_override"), "applicants", ["code_override"])

    op.create_table(
        "new_member_recap",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("applicant_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("sent_at", UTC, nullable=True),
        sa.ForeignKeyConstraint(
            ["applicant_id"],
            ["applicants.id"],
            name=op.f("fk_new_member_recap_applicant_id_applicants"),
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_new_member_recap_member_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_new_member_recap")),
        sa.UniqueConstraint("member_id", name=op.f("uq_new_member_recap_member_id")),
    )
    op.create_index(op.f("ix_new_member_recap_sent_at"), "new_member_recap", ["sent_at"])


def downgrade() -> None:
    op.drop_table("new_member_recap")
    op.drop_table("applicants")
    op.drop_table("member_code_seats")
    op.drop_table("member_code_agreements")
