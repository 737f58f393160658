"""The marshals' roster: whose card a code is, for the scanner to show without signal.

A check code names a member only by public id (it stays short, so a printed QR reads at
arm's length). Offline, the scanner looks that id up in the roster it downloaded: every
current member's SCA name, branch, standing (the result their live check gave at that
moment, membership expiry aside) and membership expiry, and their check-page sections
(authorizations with their expiry). Deactivated and deleted members are left out (the
revocation list refuses their codes). Legal names, contact details, birth dates and
photos are never in it.

``GET /check/scan/roster.json`` (``check_cards``) answers it gzipped, with an ETag over
its content (``If-None-Match`` → 304) and the time it was built in ``X-Roster-Generated-At``.
The roster is built set-based (members by id in chunks, ``collect_sections_many`` per
chunk, each chunk its own short transaction) at most once per ``MAX_AGE`` per process,
however many marshals ask; every full download is written to the audit log.

The JSON, kept compact (a row shared by many members is sent once)::

    {"v": 1, "generated_at": unix s, "today": "YYYY-MM-DD", "time_zone": IANA name,
     "branches": ["", name, ...],
     "sections": [[key, title, empty text], ...],
     "rows": [[section, group, label, value, note, tone], ...],   # label "" = section empty
     "members": [[public id, SCA name, branch, standing, expires or null, [row, ...]], ...]}
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gzip
import hashlib
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

from server import clock
from server.audit.log import record
from server.auth.guards import page
from server.checks.decide import NEEDS_PARENT, NOT_VERIFIED
from server.database import utcnow
from server.members.models import Branch, Member
from server.plugins.contract import SectionContext
from server.plugins.registry import collect_sections_many
from server.settings.store import load_settings

log = logging.getLogger("tessera.checks")
VERSION = 1
MAX_AGE = 600  # seconds a built roster is served before it is built again
CHUNK = 500  # members per query and per collect_sections_many call (a short stall each)


def standing(status: str) -> str:
    """The live check's answer for a member with ``status`` (membership expiry aside)."""
    if status in NEEDS_PARENT:
        return "minor_needs_parent"
    if status in NOT_VERIFIED:
        return "unverified"
    return "ok"


@dataclass(frozen=True)
class Roster:
    generated_at: int
    members: int
    etag: str
    body: bytes
    gzipped: bytes


class RosterBuilder:
    """Gathers the roster's tables while members are added chunk by chunk."""

    def __init__(self) -> None:
        self.branches: dict[str, int] = {"": 0}
        self.sections: dict[tuple[str, str, str], int] = {}
        self.rows: dict[tuple[Any, ...], int] = {}
        self.members: list[list[Any]] = []

    @staticmethod
    def _index(table: dict[Any, int], key: Any) -> int:
        found = table.get(key)
        if found is None:
            found = table[key] = len(table)
        return found

    def add(self, member: Member, branch: str, sections: list[Any]) -> None:
        rows: list[int] = []
        for section in sections:
            s = self._index(self.sections, (section.key, section.title, section.empty_text))
            if not section.rows:
                if section.empty_text:
                    rows.append(self._index(self.rows, (s, "", "", "", "", "")))
                continue
            for row in section.rows:
                key = (s, row.group, row.label, row.value, row.note, row.tone)
                rows.append(self._index(self.rows, key))
        expires = member.membership_expires_on
        self.members.append(
            [
                member.public_id,
                member.sca_name,
                self._index(self.branches, branch),
                standing(member.status),
                expires.isoformat() if expires else None,
                rows,
            ]
        )

    def content(self, today: dt.date, time_zone: str) -> dict[str, Any]:
        return {
            "v": VERSION,
            "today": today.isoformat(),
            "time_zone": time_zone,  # the organisation's: when a membership has expired
            "branches": list(self.branches),
            "sections": [list(key) for key in self.sections],
            "rows": [list(key) for key in self.rows],
            "members": self.members,
        }


async def build(sessionmaker: async_sessionmaker[AsyncSession], now: dt.datetime) -> Roster:
    """Every current member, in chunks of ``CHUNK`` (each its own short read)."""
    builder = RosterBuilder()
    async with sessionmaker() as db:
        site = await load_settings(db)
        today = clock.today(site, now)
        branch_names: dict[int, str] = dict(
            (await db.execute(select(Branch.id, Branch.name))).all()
        )
        after = 0
        while True:
            members = list(
                (
                    await db.scalars(
                        select(Member)
                        .where(
                            Member.id > after,
                            Member.deleted_at.is_(None),
                            Member.status != "deactivated",
                        )
                        .order_by(Member.id)
                        .limit(CHUNK)
                    )
                ).all()
            )
            if not members:
                break
            sections = await collect_sections_many(
                db, members, SectionContext.CHECK_PAGE, today, site=site
            )
            for member in members:
                branch = branch_names.get(member.branch_id, "") if member.branch_id else ""
                builder.add(member, branch, sections[member.id])
            after = members[-1].id
            db.expunge_all()  # forget this chunk's objects (nothing left to expire) ...
            await db.rollback()  # ... and end its read
    content = json.dumps(
        builder.content(today, str(clock.zone_of(site))), ensure_ascii=False, separators=(",", ":")
    )
    etag = '"' + hashlib.sha256(content.encode()).hexdigest()[:32] + '"'  # the data only
    generated_at = int(now.timestamp())
    body = f'{content[:-1]},"generated_at":{generated_at}}}'.encode()
    return Roster(generated_at, len(builder.members), etag, body, gzip.compress(body, 6))


class RosterCache:
    """The roster last built in this process; built again when ``MAX_AGE`` has passed.

    One build at a time: marshals asking meanwhile wait for it and get the same roster.
    """

    def __init__(self, max_age: float = MAX_AGE) -> None:
        self.max_age = max_age
        self.roster: Roster | None = None
        self.built_at = 0.0
        self.lock = asyncio.Lock()

    def _fresh(self) -> Roster | None:
        if self.roster is not None and time.monotonic() - self.built_at < self.max_age:
            return self.roster
        return None

    async def get(self, sessionmaker: async_sessionmaker[AsyncSession]) -> Roster:
        found = self._fresh()
        if found is not None:
            return found
        async with self.lock:
            found = self._fresh()
            if found is None:
                started = time.monotonic()
                found = await build(sessionmaker, utcnow())
                self.roster, self.built_at = found, time.monotonic()
                log.info(
                    "check roster built: %d members in %.2f s",
                    found.members,
                    self.built_at - started,
                )
            return found


def roster_cache(app: Starlette) -> RosterCache:
    found: RosterCache | None = getattr(app.state, "check_roster", None)
    if found is None:
        found = app.state.check_roster = RosterCache()
    return found


def _etags(header: str) -> set[str]:
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}


@page("check_cards", json=True)
async def roster(request: Request) -> Response:
    """The roster for the scanner; a full download is audited, a 304 is not, nor a HEAD
    (its headers alone: no member leaves)."""
    db: AsyncSession = request.state.db
    marshal_id: int = request.state.user.id
    await db.rollback()  # hold no transaction while the roster is (maybe) built
    found = await roster_cache(request.app).get(request.app.state.sessionmaker)
    headers = {
        "ETag": found.etag,
        "Cache-Control": "private, no-cache",
        "Vary": "Accept-Encoding",
        "X-Roster-Generated-At": str(found.generated_at),
        "X-Roster-Members": str(found.members),
    }
    if found.etag in _etags(request.headers.get("if-none-match", "")):
        return Response(status_code=304, headers=headers)
    body = found.body
    if "gzip" in request.headers.get("accept-encoding", ""):
        headers["Content-Encoding"] = "gzip"
        body = found.gzipped
    if request.method == "HEAD":
        return Response(media_type="application/json", headers=headers)
    record(
        db,
        actor_id=marshal_id,
        action="checks.roster_download",
        entity_type="check_roster",
        after={
            "members": found.members,
            "generated_at": dt.datetime.fromtimestamp(found.generated_at, dt.UTC).isoformat(),
        },
        note="Roster of current members downloaded to an offline scanner.",
    )
    await db.commit()
    log.info("check roster sent to member %d (%d members)", marshal_id, found.members)
    return Response(body, media_type="application/json", headers=headers)
