"""What the card says about a member's standing: the fixed vocabulary, in one place.

Every state is shown in words (the colour only repeats what the words say). Each
status has one headline and one sentence that agree with each other and with the
status label; a deactivated card shows nothing as valid (nothing green).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from server.members.status import label

# status key: (headline, sentence, tone). The sentence follows the status label on the
# card ("Verified — Adult member; membership verified."), so it never repeats it.
STATUS_WORDING: dict[str, tuple[str, str, str]] = {
    "verified": ("Current member", "Adult member; membership verified.", "ok"),
    "active": ("Membership not verified", "Adult; membership not verified.", "warn"),
    "minor_verified": (
        "Current member (under 18)",
        "Under 18; membership verified and parent linked.",
        "ok",
    ),
    "minor_parent_verified": (
        "Membership not verified",
        "Under 18; parent linked, membership not verified.",
        "warn",
    ),
    "minor_membership_verified": (
        "Under 18: no parent linked",
        "Under 18; membership verified, no parent linked.",
        "warn",
    ),
    "minor_unverified": (
        "Not verified",
        "Under 18; membership not verified, no parent linked.",
        "warn",
    ),
    "deactivated": ("Deactivated", "Not a member in good standing.", "bad"),
}
# The sentence of a verified status once the membership's expiry has passed: the card
# never says "membership verified" under a red "Membership expired".
EXPIRED_SENTENCE: dict[str, str] = {
    "verified": "Adult member; membership expired.",
    "minor_verified": "Under 18; parent linked, membership expired.",
    "minor_membership_verified": "Under 18; membership expired, no parent linked.",
}
UNKNOWN_STATUS = ("Status unknown", "Unknown status.", "warn")
DEACTIVATED_NOTE = "Not valid while this card is deactivated."


def status_part(status: str, membership: dict[str, Any]) -> dict[str, str]:
    _, sentence, tone = STATUS_WORDING.get(status, UNKNOWN_STATUS)
    if membership["expired"] and status in EXPIRED_SENTENCE:
        sentence, tone = EXPIRED_SENTENCE[status], "bad"
    return {"key": status, "label": label(status), "text": sentence, "tone": tone}


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
    text, _, tone = STATUS_WORDING.get(status, UNKNOWN_STATUS)
    if status == "deactivated":
        return {"text": text, "tone": tone}
    if membership["expired"]:
        return {"text": "Membership expired", "tone": "bad"}
    if tone == "ok" and not membership["expires_on"]:
        return {"text": "No membership on record", "tone": "warn"}
    return {"text": text, "tone": tone}


def _not_valid(part: dict[str, Any]) -> None:
    """A date on a deactivated card: the date itself, never "Valid until", never green."""
    if part["expires_on"] and not part["expired"]:
        part["text"] = f"Until {part['expires_on']} (card deactivated)"
        part["tone"] = "muted"


def settle(data: dict[str, Any]) -> None:
    """Words that depend on the whole card, applied once the core payload is built.

    A deactivated card shows no date as valid and no authorization in green: dates say
    "Until …", section rows lose their tone and each section says it is not valid.
    """
    if data["status"]["key"] != "deactivated":
        return
    _not_valid(data["membership"])
    _not_valid(data["background_check"])
    for section in data["sections"]:
        section["note"] = DEACTIVATED_NOTE
        for row in section["rows"]:
            if row.get("tone") == "ok":
                row["tone"] = "muted"


def once_expired(status: str, data: dict[str, Any]) -> dict[str, Any] | None:
    """What the card says once its membership has expired, for the card app to show when
    the organisation's date passes the expiry while the phone has no signal (the saved
    copy would otherwise stay green): the headline, status and membership parts, in the
    same words the server would then use. None when there is nothing to change."""
    membership = data["membership"]
    if status == "deactivated" or membership["expired"] or not membership["expires_on"]:
        return None
    expires_on = dt.date.fromisoformat(membership["expires_on"])
    later = dated_part(
        expires_on,
        expires_on + dt.timedelta(days=1),
        missing="",
        number=membership["number"],
    )
    return {
        "headline": headline(status, later),
        "status": status_part(status, later),
        "membership": later,
    }
