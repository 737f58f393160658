"""Building and storing many card payloads at once, set-based.

``build_many`` reads, in a fixed number of queries whatever the batch size (in one read
transaction on SQLite; the rebuilder reads PostgreSQL in autocommit, where READ
COMMITTED gives every statement a snapshot of its own anyway): the members, their
branches, the current epoch, each payload's generation and every extra part's columns
in one statement, then the app settings (kept per card epoch) and the plugin sections
(for the card and for the marshal's check page); it composes each payload — and the
marshal's view of the member (``check_view``) — in memory. Nothing is locked meanwhile.
``store`` then writes the payloads in one short write transaction, each only if its
generation is still the one it was built from (a payload invalidated meanwhile is not
overwritten) — the write lock is held for the UPDATE, never while building. On
PostgreSQL the UPDATE is one statement over arrays (``unnest``): one round trip and one
plan whatever the number of payloads, where an executemany sends a statement per row.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import BindParameter, Integer, Table, Text, bindparam, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from server import clock
from server.cards.invalidation import CURRENT_EPOCH
from server.cards.models import CardPayload
from server.cards.payload import PayloadPart, compose, encode
from server.checks.card_part import check_part
from server.config import Settings
from server.members.models import Branch, Member
from server.members.status import label as status_label
from server.photos.card_part import photo_part
from server.plugins.contract import Section, SectionContext
from server.plugins.registry import collect_sections_in
from server.settings.store import load_settings

# The extra parts of every card, in the order they are applied.
PARTS: tuple[PayloadPart, ...] = (check_part, photo_part)
PAYLOADS = cast(Table, CardPayload.__table__)
MOBILE_CARD, CHECK_PAGE = SectionContext.MOBILE_CARD, SectionContext.CHECK_PAGE


@dataclass(frozen=True, slots=True)
class BuiltPayload:
    member_id: int
    generation: int | None  # None: the member had no payload row yet
    epoch: int
    body: str
    etag: str
    valid_until: int
    check_code: str | None
    check_view: str | None  # what a marshal's live check shows of the member (JSON)

    def row(self) -> dict[str, Any]:
        return {
            "body": self.body,
            "etag": self.etag,
            "valid_until": self.valid_until,
            "check_code": self.check_code,
            "check_view": self.check_view,
            "epoch": self.epoch,
        }


async def build_many(
    db: AsyncSession,
    member_ids: Sequence[int],
    settings: Settings,
    now: dt.datetime | None = None,
    *,
    check_views: bool = True,
    sites: SiteSettings | None = None,
) -> dict[int, BuiltPayload | None]:
    """Payloads for ``member_ids`` (None for a member without a card: unknown or deleted),
    with the marshal's views of them unless ``check_views`` is false (a card refresh
    needs none; a live check builds its member's when it finds none). ``sites``: a
    builder's settings kept across batches (read again when the epoch moves)."""
    now = now or clock.now()
    ids = sorted(set(member_ids))
    found: dict[int, BuiltPayload | None] = dict.fromkeys(ids)
    if not ids:
        return found
    # The epoch and each payload's generation in the members' own statement (one
    # snapshot, one round trip): whatever changes after it makes the payloads built
    # from it stale (see ``store``). A member without a payload row has no generation.
    rows = (await db.execute(_MEMBERS, {"ids": ids})).all()
    if not rows:
        return found
    epoch = int(rows[0].epoch)
    generations = {row[0].id: row.generation for row in rows if row.generation is not None}
    site = await sites.at(db, epoch) if sites is not None else await load_settings(db)
    today = clock.today(site, now)
    contexts = (MOBILE_CARD, CHECK_PAGE) if check_views else (MOBILE_CARD,)
    sections = await collect_sections_in(db, [row[0] for row in rows], contexts, today, site=site)
    for row in rows:
        member, branch_name = row[0], row[1]
        shown = sections[MOBILE_CARD].get(member.id, [])
        build = compose(member, branch_name or "", site, settings, shown, now)
        for part, columns in _PART_COLUMNS:
            part.apply(build, tuple(row[columns]))
        body, etag = encode(build.data)
        found[member.id] = BuiltPayload(
            member.id,
            generations.get(member.id),
            epoch,
            body,
            etag,
            build.valid_until,
            build.check_code,
            check_view(member, build.data["photo"], sections[CHECK_PAGE].get(member.id, []))
            if check_views
            else None,
        )
    return found


class SiteSettings:
    """The app settings as of a card epoch, kept by a builder across its batches.

    Every change of an app setting starts a new card epoch (``server.cards.invalidation``),
    and ``build_many`` reads the epoch before the settings: settings read at epoch ``e``
    hold until the epoch moves, and a batch saves reading them again.
    """

    def __init__(self) -> None:
        self.epoch: int | None = None
        self.values: dict[str, Any] = {}

    async def at(self, db: AsyncSession, epoch: int) -> dict[str, Any]:
        if epoch != self.epoch:
            self.values = await load_settings(db)
            self.epoch = epoch
        return self.values


# A batch's statements are built once: building them cost more than running them.
_IDS: BindParameter[int] = bindparam("ids", expanding=True)


def _part_columns(first: int) -> list[tuple[PayloadPart, slice]]:
    """Where each part's columns are in a row of ``_MEMBERS`` (from column ``first``)."""
    found = []
    for part in PARTS:
        found.append((part, slice(first, first + len(part.columns))))
        first += len(part.columns)
    return found


_PART_COLUMNS = _part_columns(4)  # after the member, branch name, generation and epoch
_MEMBERS = (
    select(
        Member,
        Branch.name,
        CardPayload.generation,
        CURRENT_EPOCH.label("epoch"),
        *(column for part in PARTS for column in part.columns),
    )
    .outerjoin(Branch, Branch.id == Member.branch_id)
    .outerjoin(CardPayload, CardPayload.member_id == Member.id)
    .where(Member.id.in_(_IDS), Member.deleted_at.is_(None))
)


def check_view(member: Member, photo: str | None, sections: Sequence[Section]) -> str:
    """What a marshal's live check shows of ``member`` besides the result
    (``server.checks.routes``): built with the card, stale with it."""
    expires = member.membership_expires_on
    return json.dumps(
        {
            "status": status_label(member.status),
            "membership_expires_on": expires.isoformat() if expires else None,
            "photo": photo,
            "sections": [s.as_dict() for s in sections],
        },
        separators=(",", ":"),
        ensure_ascii=False,
    )


async def store(
    db: AsyncSession, built: Iterable[BuiltPayload | None], *, later: bool = False
) -> int:
    """Write payloads whose generation is unchanged (and rows for members without one),
    in the caller's transaction. Returns how many were offered (drivers do not all
    count the rows an executemany changed).

    ``later``: the payloads were built in an earlier transaction (the rebuilder's
    storer). A member who had no payload row then gets an empty, stale one rather than
    the payload: an invalidation between the build and now found no row to mark and
    left no trace, so the payload may show what it changed. The next build has a
    generation to check.
    """
    updates: list[dict[str, Any]] = []
    inserts: list[dict[str, Any]] = []
    for item in built:
        if item is None:
            continue
        if item.generation is None:
            row = {"valid_until": 0} if later else item.row()
            inserts.append({"member_id": item.member_id, "generation": 0, **row})
        else:
            updates.append({"m": item.member_id, "g": item.generation, **item.row()})
    if updates and db.get_bind().dialect.name == "postgresql":
        await db.execute(_PG_UPDATE, {name: [row[name] for row in updates] for name in _PG_COLUMNS})
    elif updates:
        await db.execute(
            update(PAYLOADS)
            .where(PAYLOADS.c.member_id == bindparam("m"), PAYLOADS.c.generation == bindparam("g"))
            .values({name: bindparam(name) for name in updates[0] if name not in ("m", "g")}),
            updates,
        )
    if inserts:
        # Another process may have stored the first payload meanwhile: theirs stays.
        dialect = db.get_bind().dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        await db.execute(
            insert(PAYLOADS).on_conflict_do_nothing(index_elements=["member_id"]), inserts
        )
    return len(updates) + len(inserts)


# ``store``'s UPDATE on PostgreSQL: every payload's values as one array per column.
_PG_COLUMNS = {
    "m": Integer,
    "g": Integer,
    "body": Text,
    "etag": Text,
    "valid_until": Integer,
    "check_code": Text,
    "check_view": Text,
    "epoch": Integer,
}
_PG_UPDATE = text(
    "UPDATE card_payloads AS p SET body = v.body, etag = v.etag, valid_until = v.valid_until, "
    "check_code = v.check_code, check_view = v.check_view, epoch = v.epoch "
    "FROM unnest(:m, :g, :body, :etag, :valid_until, :check_code, :check_view, :epoch) "
    "AS v(member_id, generation, body, etag, valid_until, check_code, check_view, epoch) "
    "WHERE p.member_id = v.member_id AND p.generation = v.generation"
).bindparams(*(bindparam(name, type_=ARRAY(kind)) for name, kind in _PG_COLUMNS.items()))


async def ensure_rows(db: AsyncSession, member_ids: Sequence[int]) -> None:
    """Empty (stale) payload rows for members that have none, so that invalidation
    reaches them and the rebuilder finds them."""
    if not member_ids:
        return
    dialect = db.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    await db.execute(
        insert(PAYLOADS).on_conflict_do_nothing(index_elements=["member_id"]),
        [{"member_id": m, "generation": 0, "valid_until": 0} for m in sorted(set(member_ids))],
    )


async def refresh(
    db: AsyncSession, member_id: int, settings: Settings, now: dt.datetime | None = None
) -> BuiltPayload | None:
    """Build one member's payload and store it (commits). None: the member has no card."""
    built = (await build_many(db, [member_id], settings, now))[member_id]
    await db.commit()  # the read ends before the write begins
    if built is not None:
        await store(db, [built])
        await db.commit()
    return built


async def rebuild(
    db: AsyncSession,
    member_ids: Sequence[int],
    settings: Settings,
    now: dt.datetime | None = None,
    chunk: int = 500,
) -> int:
    """Build and store many payloads now, a chunk per transaction pair (commands, bench)."""
    stored = 0
    for start in range(0, len(member_ids), chunk):
        built = await build_many(db, member_ids[start : start + chunk], settings, now)
        await db.commit()
        stored += await store(db, built.values())
        await db.commit()
        db.expunge_all()
    return stored
