"""wallet passes: passes per card link, Apple device registrations, the delivery outbox

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30 12:07:36

``wallet_passes`` holds one pass per card link and wallet (Apple, Google) with what it
shows, its update tag and the card generation/epoch it was computed from; the Apple
token only as a SHA-256. ``wallet_devices`` are the devices registered for a pass's
updates (ended, never deleted). ``wallet_deliveries`` is the outbox of APNs pushes and
Google Wallet API updates. No rows are inserted.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.database

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "wallet_passes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("card_link_id", sa.Integer(), nullable=False),
        sa.Column("wallet", sa.String(length=10), nullable=False),
        sa.Column("serial", sa.String(length=64), nullable=False),
        sa.Column("auth_token_hash", sa.String(length=64), nullable=True),
        sa.Column("created_at", server.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("updated_at", server.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("tag", sa.BigInteger(), nullable=False),
        sa.Column("seen_generation", sa.Integer(), nullable=False),
        sa.Column("seen_epoch", sa.Integer(), nullable=False),
        sa.Column("recheck_at", server.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_fetched_at", server.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("voided_at", server.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("voided_by_id", sa.Integer(), nullable=True),
        sa.Column("void_reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["card_link_id"],
            ["card_links.id"],
            name=op.f("fk_wallet_passes_card_link_id_card_links"),
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_wallet_passes_member_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["voided_by_id"], ["members.id"], name=op.f("fk_wallet_passes_voided_by_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wallet_passes")),
        sa.UniqueConstraint("card_link_id", "wallet", name="uq_wallet_passes_link_wallet"),
        sa.UniqueConstraint("serial", name=op.f("uq_wallet_passes_serial")),
    )
    with op.batch_alter_table("wallet_passes", schema=None) as batch_op:
        batch_op.create_index("ix_wallet_passes_live", ["voided_at", "recheck_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_wallet_passes_member_id"), ["member_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_wallet_passes_tag"), ["tag"], unique=False)

    op.create_table(
        "wallet_devices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pass_id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.String(length=100), nullable=False),
        sa.Column("push_token", sa.String(length=200), nullable=False),
        sa.Column("registered_at", server.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", server.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["pass_id"], ["wallet_passes.id"], name=op.f("fk_wallet_devices_pass_id_wallet_passes")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wallet_devices")),
        sa.UniqueConstraint("pass_id", "device_id", name="uq_wallet_devices_pass_device"),
    )
    with op.batch_alter_table("wallet_devices", schema=None) as batch_op:
        batch_op.create_index("ix_wallet_devices_device", ["device_id"], unique=False)

    op.create_table(
        "wallet_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", server.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("pass_id", sa.Integer(), nullable=False),
        sa.Column("device_row_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", server.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(length=80), nullable=True),
        sa.Column("claimed_until", server.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("sent_at", server.database.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["device_row_id"],
            ["wallet_devices.id"],
            name=op.f("fk_wallet_deliveries_device_row_id_wallet_devices"),
        ),
        sa.ForeignKeyConstraint(
            ["pass_id"],
            ["wallet_passes.id"],
            name=op.f("fk_wallet_deliveries_pass_id_wallet_passes"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wallet_deliveries")),
    )
    with op.batch_alter_table("wallet_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_wallet_deliveries_due", ["status", "next_attempt_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_wallet_deliveries_pass_id"), ["pass_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("wallet_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_wallet_deliveries_pass_id"))
        batch_op.drop_index("ix_wallet_deliveries_due")

    op.drop_table("wallet_deliveries")
    with op.batch_alter_table("wallet_devices", schema=None) as batch_op:
        batch_op.drop_index("ix_wallet_devices_device")

    op.drop_table("wallet_devices")
    with op.batch_alter_table("wallet_passes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_wallet_passes_tag"))
        batch_op.drop_index(batch_op.f("ix_wallet_passes_member_id"))
        batch_op.drop_index("ix_wallet_passes_live")

    op.drop_table("wallet_passes")
