"""operations: who queued a message, and each nightly job's outcome per date

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 10:00:00

``outbox.queued_by_id`` lets the officer who issued card links see how their mail
fares. ``nightly_job_runs`` records each job's outcome per date, so a job that
succeeded for a date is not run again for it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.database

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("queued_by_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_outbox_queued_by_id"), ["queued_by_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_outbox_queued_by_id_members"), "members", ["queued_by_id"], ["id"]
        )
    op.create_table(
        "nightly_job_runs",
        sa.Column("job", sa.String(length=120), nullable=False),
        sa.Column("run_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("holder", sa.String(length=120), nullable=False),
        sa.Column("started_at", server.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", server.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("job", "run_on", name=op.f("pk_nightly_job_runs")),
    )
    with op.batch_alter_table("nightly_job_runs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_nightly_job_runs_finished_at"), ["finished_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("nightly_job_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_nightly_job_runs_finished_at"))
    op.drop_table("nightly_job_runs")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_outbox_queued_by_id_members"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_outbox_queued_by_id"))
        batch_op.drop_column("queued_by_id")
