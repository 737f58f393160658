"""Accepting log entries a scanner recorded offline (never trusting what it says)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.checks import codes
from server.checks.keyring import Keyring
from server.checks.models import CheckEntry
from server.checks.results import BY_KEY
from server.members.models import Member
from server.web.text import visible_text

MAX_ENTRIES = 500
MAX_AGE = dt.timedelta(days=30)
REF_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


class UploadRefused(ValueError):
    pass


def _entry_problem(raw: Any, now: dt.datetime) -> str | None:
    if not isinstance(raw, dict):
        return "not an object"
    if not isinstance(raw.get("ref"), str) or not REF_RE.match(raw["ref"]):
        return "missing or malformed ref"
    result = raw.get("result")
    if not isinstance(result, str) or result not in BY_KEY:  # a list or object: unhashable
        return "unknown result"
    if not isinstance(raw.get("code"), str) or len(raw["code"]) > codes.MAX_CODE_CHARS:
        return "missing or overlong code"
    checked = raw.get("checked_at")
    if not isinstance(checked, int | float) or isinstance(checked, bool):
        return "checked_at must be Unix seconds"
    # Compared as numbers: no huge (or NaN) value reaches a datetime.
    earliest, latest = (now - MAX_AGE).timestamp(), (now + dt.timedelta(minutes=10)).timestamp()
    if not earliest <= checked <= latest:
        return "checked_at is in the future or more than 30 days old"
    if not isinstance(raw.get("reason", ""), str):
        return "reason must be text"
    return None


async def accept_upload(
    db: AsyncSession, payload: Any, checker_id: int, keyring: Keyring, now: dt.datetime
) -> dict[str, Any]:
    """Store new entries (one transaction); report duplicates and refused ones by ref.

    The checker is whoever's session uploads; the member and issue time come from the
    code itself, re-verified here; the result is what the scanner showed, kept as such
    (source "offline").
    """
    entries = payload.get("entries") if isinstance(payload, dict) else None
    if not isinstance(entries, list):
        raise UploadRefused('Expected {"entries": [...]}.')
    if len(entries) > MAX_ENTRIES:
        raise UploadRefused(f"At most {MAX_ENTRIES} entries per upload.")
    refused: list[dict[str, str]] = []
    fresh: dict[str, dict[str, Any]] = {}
    for raw in entries:
        problem = _entry_problem(raw, now)
        if problem:
            ref = raw.get("ref") if isinstance(raw, dict) else None
            refused.append({"ref": str(ref)[:64], "reason": problem})
        else:
            fresh[raw["ref"]] = raw
    known = set(
        (
            await db.execute(select(CheckEntry.client_ref).where(CheckEntry.client_ref.in_(fresh)))
        ).scalars()
    )
    verified: dict[str, codes.CheckCode | None] = {}
    for ref, raw in fresh.items():
        try:
            verified[ref] = codes.read(raw["code"], keyring)
        except codes.CodeRejected:
            verified[ref] = None
    public_ids = {c.public_id for c in verified.values() if c is not None}
    rows = await db.execute(
        select(Member.public_id, Member.id).where(Member.public_id.in_(public_ids))
    )
    members = {public_id: member_id for public_id, member_id in rows}
    added = 0
    for ref, raw in fresh.items():
        if ref in known:
            continue
        code = verified[ref]
        db.add(
            CheckEntry(
                checked_at=dt.datetime.fromtimestamp(raw["checked_at"], dt.UTC),
                recorded_at=now,
                checker_id=checker_id,
                member_id=members.get(code.public_id) if code else None,
                result=raw["result"],
                reason=visible_text(raw.get("reason", "")).replace("\x00", "")[:500],
                code_issued_at=code.issued_at if code else None,
                key_id=code.key_id if code else None,
                source="offline",
                client_ref=ref,
            )
        )
        added += 1
    await db.flush()
    return {"accepted": added, "duplicates": len(known), "refused": refused}
