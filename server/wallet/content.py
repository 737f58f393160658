"""What a pass shows: the card payload's facts and a long-lived check code.

The facts come from the member's card payload (``server.cards.builder``), so a pass
says exactly what the card says: organisation, name, branch, headline, status,
membership number and expiry, background check and the plugin sections. The QR is the
check URL with a code like the printed auth card's — valid until the membership
expires, at most a year — kept from version to version of the pass and made anew only
when it must be: revoked, signed by a key that is no longer current, made for another
membership expiry, or within ``RENEW_BEFORE`` of running out.

Each pass's code is its own: its valid-until is the printed card's less a few seconds
to an hour that depend on the pass (``pass_shift``), so no two of a member's passes,
and no pass and printed card, carry the same code. Voiding a pass then refuses exactly
its codes — the one it shows (``WalletPass.check_code``) and those it showed before that
have not run out (``WalletPassCode``: a phone offline since still shows them) — at the
live check and in the offline scanner's revocation list, not the member's printed card
or their other passes.

``content_of`` returns canonical JSON (sorted keys): equal text is an unchanged pass.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from server.checks import codes
from server.checks.keyring import Keyring

RENEW_BEFORE = dt.timedelta(days=30)
MAX_SECTION_ROWS = 30


@dataclass(frozen=True)
class PassCode:
    text: str
    issued_at: dt.datetime
    valid_until: dt.datetime


def pass_shift(pass_id: int) -> dt.timedelta:
    """How much earlier than a printed card's a pass's code runs out: 1 s to 1 h."""
    return dt.timedelta(seconds=1 + pass_id % 3599)


def pass_valid_until(
    issued: dt.datetime, expires_on: dt.date | None, pass_id: int, site: Mapping[str, Any]
) -> dt.datetime:
    return codes.printed_valid_until(issued, expires_on, site) - pass_shift(pass_id)


def read_code(text: str | None, ring: Keyring) -> PassCode | None:
    """A stored code, if it is still one of ours (signature good, key not retired)."""
    if not text:
        return None
    try:
        code = codes.read(text, ring)
    except codes.CodeRejected:
        return None
    return PassCode(text, code.issued_at, code.valid_until)


def fresh_code(
    ring: Keyring,
    public_id: str,
    expires_on: dt.date | None,
    now: dt.datetime,
    revoked_before: dt.datetime | None,
    pass_id: int,
    site: Mapping[str, Any],
) -> PassCode:
    issued = codes.issue_time(now, revoked_before)
    until = pass_valid_until(issued, expires_on, pass_id, site)
    return PassCode(codes.sign(ring.current, public_id, issued, until), issued, until)


def keep_code(
    stored: PassCode | None,
    ring: Keyring,
    public_id: str,
    expires_on: dt.date | None,
    now: dt.datetime,
    revoked_before: dt.datetime | None,
    pass_id: int,
    site: Mapping[str, Any],
) -> bool:
    """Whether the pass may keep ``stored`` (see the module docstring)."""
    if stored is None:
        return False
    try:
        parsed = codes.parse(stored.text, ring).code
    except codes.CodeRejected:
        return False
    if parsed.public_id != public_id or parsed.key_id != ring.current_id:
        return False
    if revoked_before is not None and stored.issued_at <= revoked_before:
        return False
    if stored.valid_until != pass_valid_until(stored.issued_at, expires_on, pass_id, site):
        return False  # the membership expiry changed since the code was made (or it is
        # a code made before passes had codes of their own)
    if stored.valid_until - now < RENEW_BEFORE:
        renewed = pass_valid_until(codes.issue_time(now, revoked_before), expires_on, pass_id, site)
        return renewed <= stored.valid_until
    return True


def _rows(section: dict[str, Any]) -> list[dict[str, str]]:
    rows = []
    for row in section.get("rows", [])[:MAX_SECTION_ROWS]:
        rows.append(
            {
                "label": str(row.get("label", "")),
                "value": str(row.get("value", "")),
                "note": str(row.get("note", "")),
                "group": str(row.get("group", "")),
            }
        )
    return rows


def facts_of(card: dict[str, Any]) -> dict[str, Any]:
    """The facts of a card payload (``json.loads`` of its body) that a pass shows.

    The mobile card's own check code and photo are left out: the pass has its own code,
    and a photo on a pass would be shown offline by any phone it was saved to.
    """
    member = card["member"]
    membership = card["membership"]
    return {
        "org": {
            "title": card["org"]["title"],
            "kingdom": card["org"]["kingdom"],
            "color": card["org"]["color"],
            "text_color": card["org"]["text_color"],
        },
        "name": member["sca_name"] or member["legal_name"] or "Member",
        "legal_name": member["legal_name"],
        "branch": member["branch"],
        "headline": card["headline"]["text"],
        "tone": card["headline"]["tone"],
        "status": card["status"]["label"],
        "status_text": card["status"]["text"],
        "membership": {
            "number": membership.get("number") or "",
            "expires_on": membership.get("expires_on"),
            "text": membership["text"],
        },
        "background_check": card["background_check"]["text"],
        "sections": [
            {
                "key": str(s.get("key", "")),
                "title": str(s.get("title", "")),
                "note": str(s.get("note", "")),
                "empty_text": str(s.get("empty_text", "")),
                "rows": _rows(s),
            }
            for s in card.get("sections", [])
        ],
    }


def content_of(facts: dict[str, Any], code: PassCode, base_url: str) -> str:
    content = {
        **facts,
        "check": {
            "url": codes.check_url(base_url, code.text),
            "valid_until": code.valid_until.isoformat(),
        },
    }
    return json.dumps(content, separators=(",", ":"), ensure_ascii=False, sort_keys=True)


def content_hash(content: str) -> str:
    return hashlib.sha256(content.encode()).hexdigest()


def stored_code(content: str) -> str | None:
    """The check code inside stored content (the last path segment of its URL)."""
    if not content:
        return None
    url = str(json.loads(content).get("check", {}).get("url", ""))
    return url.rsplit("/check/", 1)[1] if "/check/" in url else None
