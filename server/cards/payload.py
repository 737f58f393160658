"""The card payload: what a member's card shows, as data, built once per change.

The core part (names, branch, standing, membership, background check, plugin sections)
is composed here; extra parts (the marshal check code, the photo) are read with the
members, as columns of the same statement, and then fill each payload (``PayloadPart``).
Building and storing many payloads set-based is ``server.cards.builder``; marking them
stale is ``server.cards.invalidation``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement

from server import clock
from server.cards import wording
from server.config import Settings
from server.members.models import Member
from server.plugins.contract import Section

PAYLOAD_VERSION = 2


@dataclass
class PayloadBuild:
    """What a payload part sees and may change (``data``, ``valid_until``, ``check_code``)."""

    member: Member
    branch_name: str
    today: dt.date
    now: dt.datetime
    site: Mapping[str, Any]
    settings: Settings
    data: dict[str, Any] = field(default_factory=dict)
    valid_until: int = 0  # Unix time: rebuild after this (the organisation's next midnight)
    check_code: str | None = None


@dataclass(frozen=True)
class PayloadPart:
    """An extra part of the card: ``columns`` are scalar expressions correlated to
    ``members.id`` (a subquery's value for the member), read in the builder's members
    statement — one statement for a batch, whatever the parts; ``apply`` fills one
    payload from their values, in the order given."""

    name: str
    columns: tuple[ColumnElement[Any], ...]
    apply: Callable[[PayloadBuild, tuple[Any, ...]], None]


def compose(
    member: Member,
    branch_name: str,
    site: Mapping[str, Any],
    settings: Settings,
    sections: Sequence[Section],
    now: dt.datetime,
) -> PayloadBuild:
    """The core part of a payload; extra parts are applied by the builder."""
    today = clock.today(site, now)
    result = PayloadBuild(
        member,
        branch_name,
        today,
        now,
        site,
        settings,
        valid_until=int(clock.next_midnight(site, today).timestamp()),
    )
    membership = wording.dated_part(
        member.membership_expires_on,
        today,
        missing="No membership on record",
        number=member.membership_number,
    )
    result.data = {
        "v": PAYLOAD_VERSION,
        "org": {
            "title": site["site_title"],
            "kingdom": site["kingdom_name"],
            "color": site["card_color"],
            "text_color": site["card_text_color"],
            "time_zone": str(site.get("time_zone") or clock.DEFAULT_ZONE),
        },
        "member": {
            "sca_name": member.sca_name,
            "legal_name": member.legal_name,
            "branch": branch_name,
        },
        "headline": wording.headline(member.status, membership),
        "status": wording.status_part(member.status, membership),
        "membership": membership,
        "background_check": wording.dated_part(
            member.background_check_expires_on, today, missing="No background check on record"
        ),
        "sections": [s.as_dict() for s in sections],
        "check": None,  # the marshal QR code (``server.checks.card_part``)
        "photo": None,  # a data URI (``server.photos.card_part``); a placeholder when empty
    }
    wording.settle(result.data)
    result.data["if_expired"] = wording.once_expired(member.status, result.data)
    return result


def encode(data: dict[str, Any]) -> tuple[str, str]:
    """(JSON text, quoted ETag)."""
    body = json.dumps(data, separators=(",", ":"), ensure_ascii=False, sort_keys=True)
    return body, '"' + hashlib.sha256(body.encode()).hexdigest()[:32] + '"'
