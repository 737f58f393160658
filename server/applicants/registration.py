"""The public registration form: reading it, checking the member code, saving the applicant."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.applicants.models import Applicant
from server.audit.log import record
from server.database import utcnow
from server.db.lowered import same_ignoring_case
from server.db.transactions import lock_table
from server.mail.outbox import queue_email
from server.member_codes.validation import CodeCheck, validate_code
from server.members.models import Branch
from server.members.status import is_adult
from server.web.forms import FormReader

PHONE_RE = re.compile(r"^\+?[0-9 ()./-]{6,30}$")
TEXT_FIELDS: tuple[tuple[str, str, bool, int], ...] = (
    ("sca_name", "SCA name", True, 200),
    ("first_name", "First name", True, 100),
    ("middle_name", "Middle name", False, 100),
    ("last_name", "Last name", True, 100),
    ("street_address", "Street address", False, 200),
    ("city", "City", False, 100),
    ("state", "State", False, 100),
    ("zip", "Zip", False, 20),
)
MINOR_NOTICE = (
    "Because you are under 18, a parent or guardian who is a member must be linked to your "
    "account before you can log in."
)


@dataclass
class Registration:
    values: dict[str, Any]
    errors: dict[str, str]
    code_check: CodeCheck | None = None
    # True when the code failed and the applicant may tick "submit anyway".
    offer_override: bool = False
    code_override: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


async def read_registration(
    db: AsyncSession, form: FormReader, today: dt.date, has_branches: bool
) -> Registration:
    values: dict[str, Any] = {
        name: form.text(name, label, required=required, max_length=limit)
        for name, label, required, limit in TEXT_FIELDS
    }
    values["email"] = form.email("email")
    values["phone"] = form.text("phone", "Phone", max_length=40)
    if values["phone"] and "phone" not in form.errors and not PHONE_RE.match(values["phone"]):
        form.errors["phone"] = "Phone may contain digits, spaces, + ( ) . / - only."
    values["birth_month"] = form.integer(
        "birth_month", "Birth month", required=True, minimum=1, maximum=12
    )
    values["birth_year"] = form.integer(
        "birth_year", "Birth year", required=True, minimum=1900, maximum=today.year
    )
    month, year = values["birth_month"], values["birth_year"]
    if month and year and (year, month) > (today.year, today.month):
        form.errors["birth_year"] = "The birth month and year are in the future."
    values["branch_id"] = form.integer("branch_id", "Branch", required=has_branches, minimum=1)
    if values["branch_id"] is not None and await db.get(Branch, values["branch_id"]) is None:
        form.errors["branch_id"] = "Choose a branch from the list."
    if not form.boolean("accept_terms"):
        form.errors["accept_terms"] = "You must accept the terms to apply."
    values["member_code"] = form.text("member_code", "Member code", max_length=60)
    reg = Registration(values, form.errors)
    if values["member_code"]:
        reg.code_check = await validate_code(db, values["member_code"], today)
        if not reg.code_check.ok:
            if form.boolean("code_override"):
                reg.code_override = True
            else:
                reg.offer_override = True
                form.errors["member_code"] = (
                    f"{reg.code_check.message} Correct it, or tick “submit anyway”."
                )
    if month and year and not is_adult(month, year, today):
        reg.notes.append(MINOR_NOTICE)
    return reg


REPEAT_WINDOW = dt.timedelta(minutes=10)


async def _same_submission(db: AsyncSession, reg: Registration) -> Applicant | None:
    """A pending applicant saved from the very same answers a moment ago, if any."""
    email = str(reg.values.get("email") or "").strip().lower()
    if not email:
        return None
    recent = (
        await db.execute(
            select(Applicant)
            .where(
                same_ignoring_case(Applicant.email, email),
                Applicant.member_id.is_(None),
                Applicant.declined_at.is_(None),
                Applicant.submitted_at >= utcnow() - REPEAT_WINDOW,
            )
            .order_by(Applicant.id.desc())
        )
    ).scalars()
    for applicant in recent:
        same = all(getattr(applicant, name) == value for name, value in reg.values.items())
        if same and applicant.code_override == reg.code_override:
            return applicant
    return None


async def submit_application(
    db: AsyncSession, reg: Registration, site: dict[str, Any], today: dt.date
) -> Applicant:
    """Save the applicant and queue the autoresponse (in the caller's transaction).

    The same form sent again within ``REPEAT_WINDOW`` (a double click, a reload that
    re-posts) gives back the applicant already saved: no second record, no second email.
    """
    values = reg.values
    await lock_table(db, Applicant.__tablename__)  # two at once: the second sees the first
    earlier = await _same_submission(db, reg)
    if earlier is not None:
        return earlier
    applicant = Applicant(
        **values,
        code_override=reg.code_override,
        terms_accepted_at=utcnow(),
    )
    db.add(applicant)
    await db.flush()
    record(
        db,
        actor_id=None,
        action="applicant.register",
        entity=applicant,
        after={"member_code": applicant.member_code, "code_override": applicant.code_override},
    )
    check = reg.code_check
    queue_email(
        db,
        to=applicant.email,
        template="application_received",
        context={
            "applicant": applicant,
            "site": site,
            "minor": not is_adult(applicant.birth_month, applicant.birth_year, today),
            "minor_notice": MINOR_NOTICE,
            "organisation": check.agreement.organisation
            if check and check.agreement and check.ok
            else "",
            "code_problem": check.message if check and not check.ok else "",
        },
    )
    return applicant
