"""Decline: the membership office turns an applicant down (spam, duplicate, withdrawn).

The row stays (history), marked declined, and can no longer become a member. The
fields the duplicate check compares — names, email, phone — are kept, so a repeat of a
declined application shows up beside it on review; the rest of the personal data
(birth month and year, postal address) has no further use and is emptied. No email
goes to the applicant: a spam address must not get mail from us.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from server.applicants.creation import STALE
from server.applicants.models import PERSONAL_FIELDS, Applicant
from server.audit.log import record
from server.database import utcnow
from server.db.transactions import lock_for_write
from server.members.models import Member
from server.web.forms import FormReader

MAX_REASON = 500
REASONS: dict[str, str] = {
    "duplicate": "Duplicate of an existing member",
    "withdrawn": "Withdrawn by the applicant",
    "spam": "Spam",
    "other": "Other",
}
KEPT_FIELDS = ("sca_name", "first_name", "middle_name", "last_name", "email", "phone")
EMPTIED_FIELDS = tuple(name for name in PERSONAL_FIELDS if name not in KEPT_FIELDS)


class DeclineRefused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def read_reason(form: FormReader) -> str:
    """The reason from the decline form ("Spam: details"); problems go to ``form.errors``."""
    kind = form.choice("reason_kind", "Reason", REASONS, required=True)
    details = form.text("reason_details", "Details", max_length=MAX_REASON)
    if not form.ok:
        return ""
    if kind == "other":
        if not details:
            form.errors["reason_details"] = "Describe the reason (required for Other)."
        reason = details
    else:
        reason = f"{REASONS[kind]}: {details}" if details else REASONS[kind]
    if len(reason) > MAX_REASON:
        form.errors["reason_details"] = f"The reason must be at most {MAX_REASON} characters."
    return reason


def refusal(applicant: Applicant, expected_version: int) -> str | None:
    """Why this applicant cannot be declined from a page drawn at ``expected_version``."""
    if applicant.member_id is not None:
        return "A member was already created from this applicant, so it cannot be declined."
    if applicant.declined_at is not None:
        return "This applicant was already declined; nothing changed."
    if applicant.version != expected_version:
        return STALE
    return None


async def decline_applicant(
    db: AsyncSession, applicant_id: int, expected_version: int, actor: Member, reason: str
) -> Applicant:
    """Decline in the caller's transaction; ``DeclineRefused`` says why not (nothing written)."""
    reason = reason.strip()
    if not reason or len(reason) > MAX_REASON:
        raise DeclineRefused(f"Give a reason of at most {MAX_REASON} characters.")
    await lock_for_write(db)
    applicant = await db.get(Applicant, applicant_id, with_for_update=True, populate_existing=True)
    if applicant is None:
        raise DeclineRefused("There is no such applicant.")
    problem = refusal(applicant, expected_version)
    if problem:
        raise DeclineRefused(problem)
    applicant.declined_at = utcnow()
    applicant.declined_by_id = actor.id
    applicant.decline_reason = reason
    emptied = [name for name in EMPTIED_FIELDS if getattr(applicant, name) not in (None, "")]
    for name in EMPTIED_FIELDS:
        setattr(applicant, name, None if name in ("birth_month", "birth_year") else "")
    record(
        db,
        actor_id=actor.id,
        action="applicant.declined",
        entity=applicant,
        before={"declined_at": None, "decline_reason": ""},
        after={
            "declined_at": applicant.declined_at.isoformat(),
            "decline_reason": reason,
            "emptied_fields": ", ".join(emptied),
        },
        note=reason,
    )
    try:
        await db.flush()
    except StaleDataError:
        raise DeclineRefused(STALE) from None
    return applicant
