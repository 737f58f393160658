"""Activities plugin: activity groups, activities, authorizations, votes.

Revision ID: 0005_activities
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import server.database

revision = "0005_activities"
down_revision = "0001"
branch_labels = ("activities",)
depends_on = None

NOW = server.database.UTCDateTime()


def upgrade() -> None:
    op.create_table(
        "activity_groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", NOW, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_activity_groups"),
        sa.UniqueConstraint("name", name="uq_activity_groups_name"),
    )
    op.create_table(
        "activities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("term_months", sa.Integer(), nullable=True),
        sa.Column("minimum_age", sa.Integer(), nullable=True),
        sa.Column("maximum_age", sa.Integer(), nullable=True),
        sa.Column("approvals_new", sa.Integer(), nullable=False),
        sa.Column("approvals_renewal", sa.Integer(), nullable=False),
        sa.Column("authorize_permission", sa.String(length=80), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", NOW, nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"], ["activity_groups.id"], name="fk_activities_group_id_activity_groups"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_activities"),
        sa.UniqueConstraint("group_id", "name", name="uq_activities_group_name"),
    )
    op.create_index("ix_activities_group_id", "activities", ["group_id"])
    op.create_table(
        "authorizations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("is_renewal", sa.Boolean(), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=True),
        sa.Column("requested_at", NOW, nullable=False),
        sa.Column("decided_at", NOW, nullable=True),
        sa.Column("start_on", sa.Date(), nullable=True),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.Column("replaced_by_id", sa.Integer(), nullable=True),
        sa.Column("revoked_by_id", sa.Integer(), nullable=True),
        sa.Column("revoked_at", NOW, nullable=True),
        sa.Column("revoked_reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["activity_id"], ["activities.id"], name="fk_authorizations_activity_id_activities"
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name="fk_authorizations_member_id_members"
        ),
        sa.ForeignKeyConstraint(
            ["replaced_by_id"],
            ["authorizations.id"],
            name="fk_authorizations_replaced_by_id_authorizations",
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_id"], ["members.id"], name="fk_authorizations_requested_by_id_members"
        ),
        sa.ForeignKeyConstraint(
            ["revoked_by_id"], ["members.id"], name="fk_authorizations_revoked_by_id_members"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_authorizations"),
    )
    op.create_index("ix_authorizations_activity_id", "authorizations", ["activity_id"])
    op.create_index(
        "ix_authorizations_member_activity", "authorizations", ["member_id", "activity_id"]
    )
    op.create_index("ix_authorizations_status_expires", "authorizations", ["status", "expires_on"])
    for name, status in (("one_pending", "pending"), ("one_approved", "approved")):
        where = sa.text(f"status = '{status}'")
        op.create_index(
            f"uq_authorizations_{name}",
            "authorizations",
            ["member_id", "activity_id"],
            unique=True,
            sqlite_where=where,
            postgresql_where=where,
        )
    op.create_table(
        "authorization_votes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("authorization_id", sa.Integer(), nullable=False),
        sa.Column("authorizer_id", sa.Integer(), nullable=False),
        sa.Column("approve", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("at", NOW, nullable=False),
        sa.ForeignKeyConstraint(
            ["authorization_id"],
            ["authorizations.id"],
            name="fk_authorization_votes_authorization_id_authorizations",
        ),
        sa.ForeignKeyConstraint(
            ["authorizer_id"], ["members.id"], name="fk_authorization_votes_authorizer_id_members"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_authorization_votes"),
        sa.UniqueConstraint(
            "authorization_id", "authorizer_id", name="uq_authorization_votes_once"
        ),
    )
    op.create_index(
        "ix_authorization_votes_authorization_id", "authorization_votes", ["authorization_id"]
    )
    op.create_index(
        "ix_authorization_votes_authorizer_id", "authorization_votes", ["authorizer_id"]
    )


def downgrade() -> None:
    op.drop_table("authorization_votes")
    op.drop_table("authorizations")
    op.drop_table("activities")
    op.drop_table("activity_groups")
