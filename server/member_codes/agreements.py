"""Creating, editing and extending member-code agreements (audited, in the caller's transaction)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.audit.log import changes, record, snapshot
from server.database import utcnow
from server.db.transactions import lock_table
from server.member_codes.models import Agreement, Seat
from server.member_codes.validation import code_key, is_active_on
from server.members.models import Branch
from server.web.forms import FormReader

EDITABLE = ["organisation", "branch_id", "code", "starts_on", "ends_on", "seats", "notes"]


@dataclass(frozen=True)
class AgreementRow:
    agreement: Agreement
    branch_name: str
    used: int
    active_today: bool

    @property
    def remaining(self) -> int:
        return self.agreement.seats - self.used


async def list_agreements(db: AsyncSession, today: dt.date, grace_days: int) -> list[AgreementRow]:
    used = (
        select(Seat.agreement_id, func.count().label("used")).group_by(Seat.agreement_id).subquery()
    )
    rows = (
        await db.execute(
            select(Agreement, Branch.name, func.coalesce(used.c.used, 0))
            .outerjoin(Branch, Branch.id == Agreement.branch_id)
            .outerjoin(used, used.c.agreement_id == Agreement.id)
            .order_by(Agreement.ends_on.desc(), Agreement.organisation)
        )
    ).all()
    return [
        AgreementRow(a, name or "", int(n), is_active_on(a, today, grace_days))
        for a, name, n in rows
    ]


async def read_agreement_form(
    db: AsyncSession, form: FormReader, current: Agreement | None
) -> dict[str, object]:
    """Validated values for an agreement; problems land in ``form.errors``."""
    values: dict[str, object] = {
        "organisation": form.text("organisation", "Organisation", required=True),
        "code": form.text("code", "Code", required=True, max_length=60, keyed=True),
        "starts_on": form.date("starts_on", "Start date", required=True),
        "ends_on": form.date("ends_on", "End date", required=True),
        "seats": form.integer("seats", "Seats", required=True, minimum=0, maximum=1_000_000),
        "notes": form.text("notes", "Notes", max_length=2000),
        "branch_id": form.integer("branch_id", "Branch", minimum=1),
    }
    starts, ends = values["starts_on"], values["ends_on"]
    if isinstance(starts, dt.date) and isinstance(ends, dt.date) and ends < starts:
        form.errors["ends_on"] = "The end date must not be before the start date."
    branch_id = values["branch_id"]
    if branch_id is not None and await db.get(Branch, branch_id) is None:
        form.errors["branch_id"] = "Choose a branch from the list."
    key = code_key(str(values["code"]))
    if key and "code" not in form.errors:
        # Two saves of one code at once: the second waits here, then sees the first.
        await lock_table(db, Agreement.__tablename__)
        clash = await db.scalar(select(Agreement.id).where(Agreement.code_key == key))
        if clash is not None and (current is None or clash != current.id):
            form.errors["code"] = "Another agreement already uses this code (codes ignore case)."
    return values


def _apply(agreement: Agreement, values: dict[str, object], actor_id: int) -> None:
    for name, value in values.items():
        setattr(agreement, name, value)
    agreement.code = agreement.code.strip()
    agreement.code_key = code_key(agreement.code)
    agreement.modified_at = utcnow()
    agreement.modified_by_id = actor_id


async def create_agreement(db: AsyncSession, values: dict[str, object], actor_id: int) -> Agreement:
    agreement = Agreement(created_by_id=actor_id)
    _apply(agreement, values, actor_id)
    db.add(agreement)
    await db.flush()
    record(
        db,
        actor_id=actor_id,
        action="agreement.create",
        entity=agreement,
        after=snapshot(agreement, EDITABLE),
    )
    return agreement


async def update_agreement(
    db: AsyncSession, agreement: Agreement, values: dict[str, object], actor_id: int
) -> bool:
    before = snapshot(agreement, EDITABLE)
    _apply(agreement, values, actor_id)
    old, new = changes(before, snapshot(agreement, EDITABLE))
    if not new:
        return False
    record(
        db, actor_id=actor_id, action="agreement.update", entity=agreement, before=old, after=new
    )
    await db.flush()
    return True


class ExtendRefused(ValueError):
    pass


async def extend_agreement(
    db: AsyncSession, agreement: Agreement, new_end: dt.date, actor_id: int
) -> None:
    if new_end <= agreement.ends_on:
        raise ExtendRefused(
            f"The new end date must be after the current one ({agreement.ends_on.isoformat()})."
        )
    before = {"ends_on": agreement.ends_on.isoformat()}
    agreement.ends_on = new_end
    agreement.modified_at = utcnow()
    agreement.modified_by_id = actor_id
    record(
        db,
        actor_id=actor_id,
        action="agreement.extend",
        entity=agreement,
        before=before,
        after={"ends_on": new_end.isoformat()},
    )
    await db.flush()
