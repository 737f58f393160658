"""What the card says about a member's standing: the fixed vocabulary, in one place.

Every state is shown in words (the colour only repeats what the words say).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from server.members.status import label

STATUS_TEXT: dict[str, tuple[str, str]] = {
    # status key: (explanation, tone)
    "verified": ("Adult member; membership verified.", "ok"),
    "active": ("Adult; membership not verified.", "warn"),
    "minor_verified": ("Under 18; membership verified and parent linked.", "ok"),
    "minor_parent_verified": ("Under 18; parent linked, membership not verified.", "warn"),
    "minor_membership_verified": ("Under 18; membership verified, no parent linked.", "warn"),
    "minor_unverified": ("Under 18; membership and parent not verified.", "warn"),
    "deactivated": ("Deactivated: not a member in good standing.", "bad"),
}


def status_part(status: str) -> dict[str, str]:
    text, tone = STATUS_TEXT.get(status, ("Unknown status.", "warn"))
    return {"key": status, "label": label(status), "text": text, "tone": tone}


def dated_part(
    expires_on: dt.date | None, today: dt.date, *, missing: str, number: str | None = None
) -> dict[str, Any]:
    """A membership or background check: the date as a plain ISO date, and words."""
    if expires_on is None:
        return {
            "number": number,
            "expires_on": None,
            "expired": False,
            "text": missing,
            "tone": "warn",
        }
    expired = expires_on < today
    iso = expires_on.isoformat()
    return {
        "number": number,
        "expires_on": iso,
        "expired": expired,
        "text": f"Expired on {iso}" if expired else f"Valid until {iso}",
        "tone": "bad" if expired else "ok",
    }


def headline(status: str, membership: dict[str, Any]) -> dict[str, str]:
    """One line at the top of the card: can this person be treated as a current member?"""
    if status == "deactivated":
        return {"text": "Deactivated", "tone": "bad"}
    if membership["expired"]:
        return {"text": "Membership expired", "tone": "bad"}
    if STATUS_TEXT.get(status, ("", "warn"))[1] == "ok" and membership["expires_on"]:
        return {"text": "Current member", "tone": "ok"}
    return {"text": "Not verified", "tone": "warn"}
