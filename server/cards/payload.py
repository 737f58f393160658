"""The precomputed card payload: built once per change, served as stored bytes.

``invalidate(db, member_ids)`` marks payloads stale; it runs automatically when a
``Member``, ``Branch`` or app setting is flushed through the ORM or changed with an
ORM ``update(Member)``/``delete(Member)`` statement. Code that changes what a card shows
in any other way (plugin data, Core statements) must call ``invalidate`` in the same
transaction. Payloads also expire at the next local midnight (expiry dates, age-up)
or earlier when a payload part asks for it (``PayloadBuild.valid_until``).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import importlib
import json
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Connection, Delete, Table, Update, bindparam, event, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session

from server.cards import wording
from server.cards.models import CardPayload
from server.members.models import Branch, Member
from server.plugins.contract import Section, SectionContext
from server.plugins.registry import collect_sections, collect_sections_many
from server.settings.models import SettingValue
from server.settings.store import load_settings

PAYLOAD_VERSION = 1


@dataclass
class PayloadBuild:
    """What a payload part sees and may change (``data``, ``valid_until``, ``check_code``)."""

    member: Member
    branch_name: str
    today: dt.date
    site: dict[str, Any]
    data: dict[str, Any] = field(default_factory=dict)
    valid_until: int = 0
    check_code: str | None = None


PayloadPart = Callable[[AsyncSession, PayloadBuild], Awaitable[None]]
# Extra parts of the card (the marshal QR code in ``data["check"]``, ``data["photo"]``);
# they run after the core part, in registration order. The modules that register them
# are imported before the first payload is built, in whatever process builds it (the
# server, a command, the benchmark's seeder): a card never depends on import order.
PAYLOAD_PARTS: list[PayloadPart] = []
PART_MODULES: list[str] = ["server.checks.card_part", "server.photos.card_part"]


def register_part(part: PayloadPart) -> PayloadPart:
    if part not in PAYLOAD_PARTS:
        PAYLOAD_PARTS.append(part)
    return part


@functools.cache
def _load_parts() -> None:
    for name in PART_MODULES:
        importlib.import_module(name)


def next_midnight(today: dt.date) -> int:
    return int(dt.datetime.combine(today + dt.timedelta(days=1), dt.time()).timestamp())


async def build(db: AsyncSession, member_id: int, today: dt.date) -> PayloadBuild | None:
    """The card data for a member, or None when there is no card to show (deleted)."""
    row = (
        await db.execute(
            select(Member, Branch.name)
            .outerjoin(Branch, Branch.id == Member.branch_id)
            .where(Member.id == member_id)
        )
    ).first()
    if row is None or row[0].deleted_at is not None:
        return None
    member, branch_name = row
    site = await load_settings(db)
    sections = await collect_sections(db, member, SectionContext.MOBILE_CARD, today)
    return await compose(db, member, branch_name or "", site, sections, today)


async def compose(
    db: AsyncSession,
    member: Member,
    branch_name: str,
    site: dict[str, Any],
    sections: Sequence[Section],
    today: dt.date,
) -> PayloadBuild:
    """The payload from what was loaded: the core part, then every registered part."""
    _load_parts()
    result = PayloadBuild(member, branch_name, today, site, valid_until=next_midnight(today))
    membership = wording.dated_part(
        member.membership_expires_on,
        today,
        missing="No membership on record",
        number=member.membership_number,
    )
    result.data = {
        "v": PAYLOAD_VERSION,
        "as_of": today.isoformat(),
        "org": {
            "title": site["site_title"],
            "kingdom": site["kingdom_name"],
            "color": site["card_color"],
            "text_color": site["card_text_color"],
        },
        "member": {
            "sca_name": member.sca_name,
            "legal_name": member.legal_name,
            "branch": branch_name,
        },
        "headline": wording.headline(member.status, membership),
        "status": wording.status_part(member.status),
        "membership": membership,
        "background_check": wording.dated_part(
            member.background_check_expires_on, today, missing="No background check on record"
        ),
        "sections": [s.as_dict() for s in sections],
        "check": None,  # slot: the marshal QR (issue 6)
        "photo": None,  # slot: photo URL (issue 6); a placeholder is drawn when empty
    }
    wording.settle(result.data)
    for part in PAYLOAD_PARTS:
        await part(db, result)
    return result


def encode(data: dict[str, Any]) -> tuple[str, str]:
    """(JSON text, quoted ETag)."""
    body = json.dumps(data, separators=(",", ":"), ensure_ascii=False, sort_keys=True)
    return body, '"' + hashlib.sha256(body.encode()).hexdigest()[:32] + '"'


STORED_COLUMNS = ("body", "etag", "valid_until", "check_code")


def _row_values(built: PayloadBuild) -> dict[str, Any]:
    """What a built payload writes to its row (``STORED_COLUMNS``), insert or update."""
    body, etag = encode(built.data)
    return {
        "body": body,
        "etag": etag,
        "valid_until": built.valid_until,
        "check_code": built.check_code,
    }


async def refresh(
    db: AsyncSession, member_id: int, today: dt.date | None = None
) -> tuple[str, str, int] | None:
    """Compute a member's payload and store it unless it was invalidated meanwhile.

    Returns (body, etag, valid_until), or None when the member has no card.
    Commits the session.
    """
    today = today or dt.date.today()
    generation = (
        await db.execute(select(CardPayload.generation).where(CardPayload.member_id == member_id))
    ).scalar_one_or_none()
    built = await build(db, member_id, today)
    if built is None:
        await db.rollback()
        return None
    values = _row_values(built)
    body, etag = values["body"], values["etag"]
    if generation is None:
        try:
            await db.execute(
                insert(CardPayload).values(member_id=member_id, generation=0, **values)
            )
        except IntegrityError:  # another request stored it first: theirs is as good
            await db.rollback()
            return body, etag, built.valid_until
    else:
        await db.execute(
            update(CardPayload)
            .where(CardPayload.member_id == member_id, CardPayload.generation == generation)
            .values(**values)
        )
    await db.commit()
    return body, etag, built.valid_until


async def ensure_rows(db: AsyncSession, member_ids: list[int]) -> None:
    """Empty payload rows for members that have none (so invalidation can reach them)."""
    if not member_ids:
        return
    have = set(
        (
            await db.execute(
                select(CardPayload.member_id).where(CardPayload.member_id.in_(member_ids))
            )
        ).scalars()
    )
    missing = [
        {"member_id": m, "generation": 0, "valid_until": 0} for m in member_ids if m not in have
    ]
    if missing:
        await db.execute(insert(CardPayload), missing)


def _invalidate_statement(member_ids: Iterable[int] | None) -> Update:
    stmt = update(CardPayload).values(
        generation=CardPayload.generation + 1, body=None, valid_until=0
    )
    if member_ids is not None:
        stmt = stmt.where(CardPayload.member_id.in_(list(member_ids)))
    return stmt


async def invalidate(db: AsyncSession, member_ids: Iterable[int] | None) -> None:
    """Mark these members' cards (None: every card) as changed, in the caller's transaction."""
    ids = None if member_ids is None else list(member_ids)
    if ids == []:
        return
    await db.execute(_invalidate_statement(ids))


async def rebuild(
    db: AsyncSession, member_ids: Sequence[int], today: dt.date | None = None, chunk: int = 1000
) -> int:
    """Build and store the payloads of many members now, set-based (bench, bulk jobs).

    Commits after each chunk; a payload invalidated meanwhile is not overwritten.
    """
    today = today or dt.date.today()
    site = await load_settings(db)
    stored = 0
    for start in range(0, len(member_ids), chunk):
        ids = list(member_ids[start : start + chunk])
        generations = dict(
            (
                await db.execute(
                    select(CardPayload.member_id, CardPayload.generation).where(
                        CardPayload.member_id.in_(ids)
                    )
                )
            ).all()
        )
        rows = (
            await db.execute(
                select(Member, Branch.name)
                .outerjoin(Branch, Branch.id == Member.branch_id)
                .where(Member.id.in_(ids), Member.deleted_at.is_(None))
            )
        ).all()
        updates, inserts = [], []
        found = await collect_sections_many(
            db, [m for m, _ in rows], SectionContext.MOBILE_CARD, today
        )
        for member, branch_name in rows:
            sections = found.get(member.id, [])
            built = await compose(db, member, branch_name or "", site, sections, today)
            values = _row_values(built)
            if member.id in generations:
                updates.append({**values, "m": member.id, "g": generations[member.id]})
            else:
                inserts.append({**values, "member_id": member.id, "generation": 0})
        table = cast(Table, CardPayload.__table__)
        if updates:
            await db.execute(
                update(table)
                .where(table.c.member_id == bindparam("m"), table.c.generation == bindparam("g"))
                .values({name: bindparam(name) for name in STORED_COLUMNS}),
                updates,
            )
        if inserts:
            await db.execute(insert(table), inserts)
        await db.commit()
        db.expunge_all()
        stored += len(rows)
    return stored


# --- automatic invalidation --------------------------------------------------------

# Member fields that never appear on a card: changing only these keeps the payload.
NOT_ON_CARD = frozenset(
    {
        "password_hash",
        "failed_login_attempts",
        "last_failed_login",
        "locked_until",
        "last_login",
        "modified_at",
        "modified_by_id",
        "version",
        "is_staff",
    }
)


def _changed_on_card(session: Session, member: Member) -> bool:
    from sqlalchemy import inspect

    state = inspect(member)
    for attr in state.mapper.column_attrs:
        if attr.key in NOT_ON_CARD:
            continue
        if state.attrs[attr.key].history.has_changes():
            return True
    return False


def _run(connection: Connection, stmt: Update) -> None:
    connection.execute(stmt)


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, flush_context: Any) -> None:
    members: set[int] = set()
    branches: set[int] = set()
    everything = False
    for obj in session.dirty:
        if isinstance(obj, Member) and _changed_on_card(session, obj):
            members.add(obj.id)
        elif isinstance(obj, Branch):
            branches.add(obj.id)
        elif isinstance(obj, SettingValue):
            everything = True
    for obj in session.deleted:
        if isinstance(obj, Member):
            members.add(obj.id)
        elif isinstance(obj, Branch):
            branches.add(obj.id)
    for obj in session.new:
        if isinstance(obj, SettingValue):
            everything = True
    connection = session.connection()
    if everything:
        _run(connection, _invalidate_statement(None))
        return
    if members:
        _run(connection, _invalidate_statement(members))
    if branches:
        in_branches = select(Member.id).where(Member.branch_id.in_(branches))
        _run(
            connection,
            update(CardPayload)
            .where(CardPayload.member_id.in_(in_branches))
            .values(generation=CardPayload.generation + 1, body=None, valid_until=0),
        )


@event.listens_for(Session, "do_orm_execute")
def _on_orm_statement(state: ORMExecuteState) -> None:
    """``update(Member)`` / ``delete(Member)`` statements invalidate the rows they touch."""
    if not (state.is_update or state.is_delete):
        return
    stmt = state.statement
    if not isinstance(stmt, Update | Delete):
        return
    if stmt.entity_description.get("entity") is not Member:
        return
    values = getattr(stmt, "_values", None) if isinstance(stmt, Update) else None
    if values and all(getattr(k, "key", k) in NOT_ON_CARD for k in values):
        return  # login bookkeeping and the like: nothing on the card changes
    where = stmt.whereclause
    targets = select(Member.id) if where is None else select(Member.id).where(where)
    state.session.connection().execute(
        update(CardPayload)
        .where(CardPayload.member_id.in_(targets))
        .values(generation=CardPayload.generation + 1, body=None, valid_until=0)
    )
