"""wallet: each pass's check code in a column, so a voided pass's code is refused

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30 15:00:00

``wallet_passes.check_code`` is the check code the pass shows (a voided pass keeps its
last one). The live check refuses a voided pass's code as revoked, and the offline
scanners' revocation list carries it. Filled from the stored content of the passes
there are; passes made before passes had codes of their own (the printed card's code)
get one at their next refresh, within a day.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | Sequence[str] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _code(content: str | None) -> str | None:
    if not content:
        return None
    try:
        url = str(json.loads(content).get("check", {}).get("url", ""))
    except ValueError:
        return None
    return url.rsplit("/check/", 1)[1][:200] if "/check/" in url else None


def upgrade() -> None:
    with op.batch_alter_table("wallet_passes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("check_code", sa.String(length=200), nullable=True))
    passes = sa.table(
        "wallet_passes",
        sa.column("id", sa.Integer),
        sa.column("content", sa.Text),
        sa.column("check_code", sa.String),
    )
    connection = op.get_bind()
    rows = connection.execute(sa.select(passes.c.id, passes.c.content)).all()
    for pass_id, content in rows:
        code = _code(content)
        if code:
            connection.execute(
                passes.update().where(passes.c.id == pass_id).values(check_code=code)
            )


def downgrade() -> None:
    with op.batch_alter_table("wallet_passes", schema=None) as batch_op:
        batch_op.drop_column("check_code")
