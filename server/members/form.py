"""The member edit forms: which fields exist, and reading them into checked values."""

from __future__ import annotations

import datetime as dt
from typing import Any

from server.members.models import Member
from server.web.forms import FormReader

# (name, label, max length) of the plain text fields an admin edits.
TEXT_FIELDS: tuple[tuple[str, str, int], ...] = (
    ("sca_name", "SCA name", 200),
    ("first_name", "First name", 100),
    ("middle_name", "Middle name", 100),
    ("last_name", "Last name", 100),
    ("phone", "Phone", 40),
    ("street_address", "Street address", 200),
    ("city", "City", 100),
    ("state", "State", 100),
    ("zip", "ZIP / postcode", 20),
)
NOTE_FIELDS: tuple[tuple[str, str], ...] = (
    ("public_notes", "Public notes"),
    ("private_notes", "Private notes"),
)
MAX_NOTES = 5000
MAX_INFO = 500


def info_fields(
    site: dict[str, Any], *, member_editable_only: bool = False
) -> list[dict[str, Any]]:
    fields = site.get("additional_info_fields") or []
    return [f for f in fields if f.get("member_editable") or not member_editable_only]


def read_additional_info(
    form: FormReader, fields: list[dict[str, Any]], current: dict[str, Any]
) -> dict[str, Any]:
    """The new additional_info dict: ``fields`` read from the form, other keys kept."""
    result = dict(current or {})
    for spec in fields:
        name = f"info_{spec['key']}"
        if spec["type"] == "select":
            value: Any = form.choice(name, spec["label"], spec["options"])
        elif spec["type"] == "date":
            parsed = form.date(name, spec["label"])
            value = parsed.isoformat() if parsed else ""
        else:
            value = form.text(name, spec["label"], max_length=MAX_INFO)
        if value:
            result[spec["key"]] = value
        else:
            result.pop(spec["key"], None)
    return result


def read_member_form(
    form: FormReader,
    member: Member,
    *,
    branch_ids: set[int],
    fields: list[dict[str, Any]],
    today: dt.date,
) -> dict[str, Any]:
    """Every admin-editable field, checked; problems land in ``form.errors``."""
    values: dict[str, Any] = {}
    for name, label, max_length in TEXT_FIELDS:
        values[name] = form.text(name, label, max_length=max_length)
    for name, label in NOTE_FIELDS:
        values[name] = form.text(name, label, max_length=MAX_NOTES)
    values["email"] = form.email("email")
    if not (values["sca_name"] or values["first_name"] or values["last_name"]):
        form.errors["sca_name"] = "Give an SCA name or a legal name."
    branch = form.choice("branch_id", "Branch", [str(b) for b in branch_ids])
    values["branch_id"] = int(branch) if branch else None
    values["membership_number"] = (
        form.text("membership_number", "Membership number", max_length=40) or None
    )
    values["membership_expires_on"] = form.date("membership_expires_on", "Membership expires on")
    values["background_check_expires_on"] = form.date(
        "background_check_expires_on", "Background check expires on"
    )
    values["birth_month"] = form.integer("birth_month", "Birth month", minimum=1, maximum=12)
    values["birth_year"] = form.integer(
        "birth_year", "Birth year", minimum=1900, maximum=today.year
    )
    if (values["birth_month"] is None) != (values["birth_year"] is None):
        form.errors.setdefault(
            "birth_year", "Give both the birth month and the birth year, or neither."
        )
    if member.verified_at is not None and not (
        values["membership_number"] and values["membership_expires_on"]
    ):
        form.errors.setdefault(
            "membership_number",
            "This membership is verified: keep its number and expiry date, or use "
            "“Clear membership info” instead.",
        )
    values["additional_info"] = read_additional_info(form, fields, member.additional_info)
    return values
