"""Bulk issuing over a selection (branch with its sub-branches, statuses), in batches.

Each batch of ``BATCH`` members is one transaction (links, emails and audit rows of
those members together), so progress is visible to other connections and a stopped
run can be resumed with "members without a live link".

One run at a time, across workers and servers: a run holds the ``job_locks`` row
``cards.bulk_issue`` (taken by one conditional UPDATE, renewed with every batch, given
back at the end, free again a minute after a run that died). A second run is refused
with ``BulkRunBusy`` and its message before it changes anything: two runs over the same
members would both replace the same links.

Officers issue links only to members below them (``server.auth.precedence``: a new link
revokes the live one), so a run started by an officer leaves out the members above them;
a run from the command line (the operator) or by a superuser selects everyone.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Select, exists, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server import clock
from server.audit.log import record
from server.auth.access import permissions_of
from server.auth.precedence import protected_ids
from server.cards.issuing import MailContext, issue_batch, load_recipients
from server.cards.models import CardIssueJob, CardLink
from server.database import utcnow
from server.db.rowcount import rowcount
from server.members.locks import lock_members
from server.members.models import Branch, Member
from server.nightly.models import JobLock
from server.settings.store import load_settings

BATCH = 500
HEARTBEAT_STALE = dt.timedelta(seconds=60)
LOCK_NAME = "cards.bulk_issue"
log = logging.getLogger("tessera.cards")


class BulkRunBusy(Exception):
    """Another bulk run holds the lock; ``str(exc)`` says which, for people."""


def job_holder(job_id: int) -> str:
    return f"job:{job_id}"


def command_holder() -> str:
    return f"command:{socket.gethostname()}:{os.getpid()}"[:120]


async def claim_run(db: AsyncSession, holder: str) -> None:
    """Take the bulk-run lock for ``holder`` in the caller's transaction, or raise
    ``BulkRunBusy``. The caller commits (with the job row it creates, if any)."""
    now = utcnow()
    if await db.get(JobLock, LOCK_NAME) is None:
        try:
            async with db.begin_nested():
                db.add(JobLock(name=LOCK_NAME))
        except IntegrityError:
            pass  # made meanwhile by another run
    taken = await db.execute(
        update(JobLock)
        .where(
            JobLock.name == LOCK_NAME,
            or_(JobLock.locked_until.is_(None), JobLock.locked_until < now),
        )
        .values(holder=holder, locked_until=now + HEARTBEAT_STALE)
        .execution_options(synchronize_session=False)
    )
    if rowcount(taken) == 1:
        return
    other = await db.scalar(select(JobLock.holder).where(JobLock.name == LOCK_NAME))
    what = (
        f"bulk run #{other.split(':', 1)[1]}"
        if other and other.startswith("job:")
        else "a bulk run from the command line"
    )
    raise BulkRunBusy(
        f"Another card issuing run ({what}) is still going. Start this one when it has "
        "finished; a run that stopped frees the way within a minute."
    )


async def _renew(db: AsyncSession, holder: str) -> None:
    renewed = await db.execute(
        update(JobLock)
        .where(JobLock.name == LOCK_NAME, JobLock.holder == holder)
        .values(locked_until=utcnow() + HEARTBEAT_STALE)
        .execution_options(synchronize_session=False)
    )
    if rowcount(renewed) != 1:
        raise BulkRunBusy("This run stalled for over a minute and another run took over.")


async def _release(sessionmaker: async_sessionmaker[AsyncSession], holder: str) -> None:
    async with sessionmaker() as db:
        await db.execute(
            update(JobLock)
            .where(JobLock.name == LOCK_NAME, JobLock.holder == holder)
            .values(holder=None, locked_until=None)
            .execution_options(synchronize_session=False)
        )
        await db.commit()


@dataclass(frozen=True)
class Selection:
    branch_id: int | None = None
    statuses: tuple[str, ...] = ()
    replace_existing: bool = False  # False: only members without a live link


async def branch_and_descendants(db: AsyncSession, branch_id: int) -> list[int]:
    rows = (await db.execute(select(Branch.id, Branch.parent_id))).all()
    children: dict[int | None, list[int]] = {}
    for bid, parent in rows:
        children.setdefault(parent, []).append(bid)
    found, todo = [], [branch_id]
    while todo:
        current = todo.pop()
        if current in found:
            continue
        found.append(current)
        todo.extend(children.get(current, []))
    return found


async def _base(db: AsyncSession, selection: Selection) -> Select[int]:
    query = select(Member.id).where(Member.deleted_at.is_(None))
    if selection.branch_id is not None:
        query = query.where(
            Member.branch_id.in_(await branch_and_descendants(db, selection.branch_id))
        )
    if selection.statuses:
        query = query.where(Member.status.in_(selection.statuses))
    return query


def _issuable(query: Select[int], selection: Selection) -> Select[int]:
    """``query``'s members a run issues to: not deactivated, and without a live link
    unless the selection replaces them."""
    query = query.where(Member.deactivated_at.is_(None))
    if not selection.replace_existing:
        query = query.where(~exists().where(CardLink.live_member_id == Member.id))
    return query.order_by(Member.id)


async def selected_ids(db: AsyncSession, selection: Selection) -> tuple[list[int], int]:
    """(member ids to issue, number skipped because deactivated)."""
    base = await _base(db, selection)
    ids = list((await db.execute(_issuable(base, selection))).scalars())
    skipped = (
        await db.execute(
            select(func.count()).select_from(
                base.where(Member.deactivated_at.is_not(None)).subquery()
            )
        )
    ).scalar_one()
    return ids, int(skipped)


async def _still_selected(db: AsyncSession, chunk: list[int], selection: Selection) -> list[int]:
    """The members of ``chunk`` (rows locked) that the selection's rules still pick."""
    query = select(Member.id).where(Member.id.in_(chunk), Member.deleted_at.is_(None))
    return list((await db.execute(_issuable(query, selection))).scalars())


async def _protected_from(db: AsyncSession, actor_id: int | None) -> set[int]:
    """The members ``actor_id`` may not act on (``server.auth.precedence``)."""
    actor = None if actor_id is None else await db.get(Member, actor_id)
    if actor is None:
        return set()
    today = clock.today(await load_settings(db))
    perms = await permissions_of(db, actor, today)
    return await protected_ids(db, actor, perms, today)


Progress = Callable[[int, int], None]


async def issue_selection(
    sessionmaker: async_sessionmaker[AsyncSession],
    selection: Selection,
    *,
    actor_id: int | None,
    mail: MailContext,
    job_id: int | None = None,
    progress: Progress | None = None,
) -> tuple[int, int]:
    """Issue links to everyone selected; returns (issued, skipped deactivated).

    A job's run (``job_id``) holds the lock its page took (``claim_run``); a run
    without a job takes it here. Either gives it back at the end.
    """
    holder = job_holder(job_id) if job_id is not None else command_holder()
    try:
        async with sessionmaker() as db:
            if job_id is None:
                await claim_run(db, holder)
            else:
                await _renew(db, holder)
            ids, skipped = await selected_ids(db, selection)
            # Officers issue links only to members below them (a new link revokes the
            # live one): the others are left out of the run.
            left_out = await _protected_from(db, actor_id)
            kept = len(ids)
            ids = [member_id for member_id in ids if member_id not in left_out]
            left_out_count = kept - len(ids)
            if job_id is not None:
                await _update_job(db, job_id, total=len(ids), skipped_deactivated=skipped)
            record(
                db,
                actor_id=actor_id,
                action="card_link.bulk_issue",
                entity_type="card_issue_jobs",
                entity_id=job_id,
                after={
                    "branch_id": selection.branch_id,
                    "statuses": list(selection.statuses),
                    "replace_existing": selection.replace_existing,
                    "members": len(ids),
                    "skipped_deactivated": skipped,
                    "left_out_above_the_officer": left_out_count,
                },
            )
            await db.commit()
    except BulkRunBusy:
        raise
    except BaseException:
        await _release(sessionmaker, holder)
        raise
    done = issued = 0
    try:
        for start in range(0, len(ids), BATCH):
            chunk = ids[start : start + BATCH]
            async with sessionmaker() as db:
                await _renew(db, holder)
                # A link issued from a member's page (or a member deactivated) since
                # the selection was made is respected: the chunk's rows are locked (a
                # single issue waits, or is waited for) and looked at again.
                await lock_members(db, chunk)
                wanted = await _still_selected(db, chunk, selection)
                recipients = await load_recipients(db, wanted)
                await issue_batch(db, recipients, actor_id=actor_id, via="bulk", mail=mail)
                issued += len(wanted)
                done += len(chunk)
                if job_id is not None:
                    await _update_job(db, job_id, done=done)
                await db.commit()
            if progress is not None:
                progress(done, len(ids))
    finally:
        await _release(sessionmaker, holder)
    return issued, skipped


async def _update_job(db: AsyncSession, job_id: int, **values: object) -> None:
    await db.execute(
        update(CardIssueJob)
        .where(CardIssueJob.id == job_id)
        .values(heartbeat_at=utcnow(), **values)
    )


async def run_job(
    sessionmaker: async_sessionmaker[AsyncSession], job_id: int, mail: MailContext
) -> None:
    """Run a job row created by the admin page (inside the web server process).

    A failure is written to the job (its page shows it) and logged, never raised: this
    runs as a background task nobody awaits.
    """
    async with sessionmaker() as db:
        job = await db.get(CardIssueJob, job_id)
        assert job is not None
        selection = Selection(job.branch_id, tuple(job.statuses), job.replace_existing)
        actor_id = job.created_by_id
    try:
        await issue_selection(sessionmaker, selection, actor_id=actor_id, mail=mail, job_id=job_id)
    except Exception as exc:
        log.exception("bulk card issuing run %s failed", job_id)
        async with sessionmaker() as db:
            await _update_job(
                db, job_id, state="failed", error=str(exc)[:500], finished_at=utcnow()
            )
            await db.commit()
        return
    async with sessionmaker() as db:
        await _update_job(db, job_id, state="finished", finished_at=utcnow())
        await db.commit()


def job_state(job: CardIssueJob, now: dt.datetime | None = None) -> str:
    """running / finished / failed / interrupted (a running job that stopped beating)."""
    now = now or utcnow()
    if job.state == "running" and now - job.heartbeat_at > HEARTBEAT_STALE:
        return "interrupted"
    return job.state
