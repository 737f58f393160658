"""applicants: the membership office can decline an applicant

Revision ID: 0008
Revises: 0007, 0003 (merges the applicants branch, whose table this changes)
Create Date: 2026-11-22 10:00:00

SQLite: the columns are added in place (``ALTER TABLE ADD COLUMN``, what batch mode does
for a plain column), never by copying the table. A copy drops ``applicants``, which
``new_member_recap`` references; with ``foreign_keys=ON`` (set on every connection, and
not changeable inside the migration's transaction) that fails as soon as one member was
created from an applicant. The foreign key is written inline on the column, which SQLite
allows in ``ADD COLUMN`` and lets ``DROP COLUMN`` remove again (SQLite reflects an inline
constraint without its name; the schema comparison does not mind).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.database

revision: str = "0008"
down_revision: str | Sequence[str] | None = ("0007", "0003")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = server.database.UTCDateTime(timezone=True)
FK_NAME = "fk_applicants_declined_by_id_members"


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def upgrade() -> None:
    with op.batch_alter_table("applicants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("declined_at", UTC, nullable=True))
        batch_op.add_column(
            sa.Column("decline_reason", sa.String(length=500), nullable=False, server_default="")
        )
    if _sqlite():
        op.execute(
            "ALTER TABLE applicants ADD COLUMN declined_by_id INTEGER "
            f"CONSTRAINT {FK_NAME} REFERENCES members (id)"
        )
        return
    op.add_column("applicants", sa.Column("declined_by_id", sa.Integer(), nullable=True))
    op.create_foreign_key(FK_NAME, "applicants", "members", ["declined_by_id"], ["id"])


def downgrade() -> None:
    if not _sqlite():
        op.drop_constraint(FK_NAME, "applicants", type_="foreignkey")
    for column in ("declined_by_id", "decline_reason", "declined_at"):
        op.drop_column("applicants", column)
