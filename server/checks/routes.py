"""The live check page ``/check/{code}``, the public keys and the revocation list.

Also gathers the scanner's and the reports' routes, so ``server.app`` lists one module.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

from starlette.convertors import Convertor, register_url_convertor
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from server import clock
from server.auth.current import current_user
from server.auth.guards import page
from server.auth.precedence import require_may_act
from server.cards import runtime as card_runtime
from server.checks import reports, runtime, scanner
from server.checks.checker import Checker, checker_from, find_checker, session_rows
from server.checks.decide import Verdict, decide
from server.checks.log import entry_for
from server.checks.lookup import MemberFacts
from server.checks.revocations import revocation_list, revoke_codes
from server.database import utcnow
from server.members.models import Member
from server.web.forms import FormReader
from server.web.navigation import CHECKS, NavLink
from server.web.ratelimit import RateLimiter, client_key
from server.web.templating import flash


class CheckCodeConvertor(Convertor[str]):
    """What can be a check code: lets ``/check/{code}`` be matched first (the hot path)
    without shadowing ``/check/scan/`` or ``/check/keys.json``."""

    regex = "[A-Za-z0-9_-]{40,200}"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("checkcode", CheckCodeConvertor())

# Codes that fail to verify, per client address: guessing gets nowhere and is slowed.
failure_limiter = RateLimiter(limit=60, window=60)
NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def _age(issued_at: dt.datetime, now: dt.datetime) -> str:
    minutes = max(0, int((now - issued_at).total_seconds() // 60))
    if minutes < 120:
        return f"{minutes} minutes ago"
    if minutes < 72 * 60:
        return f"{minutes // 60} hours ago"
    return f"{minutes // 1440} days ago"


def _verdict_json(verdict: Verdict, extra: dict[str, Any]) -> dict[str, Any]:
    member = verdict.member
    return {
        "result": verdict.result.key,
        "word": verdict.result.word,
        "label": verdict.result.label,
        "reason": verdict.reason,
        "name": member.sca_name if member else None,
        "branch": member.branch_name if member else None,
        **extra,
    }


def _respond(request: Request, verdict: Verdict, extra: dict[str, Any]) -> Response:
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse(_verdict_json(verdict, extra), headers=NO_STORE)
    page = runtime.check_page(request.app).render(verdict, extra, here=request.scope["path"])
    return HTMLResponse(page, headers=NO_STORE)


def _too_many(request: Request, wait: int) -> Response:
    """429 for a client whose codes keep failing to verify (JSON for the scanner)."""
    message = (
        "Too many codes that did not verify came from your address. Wait a minute and try again."
    )
    headers = {**NO_STORE, "Retry-After": str(wait)}
    if "application/json" in request.headers.get("accept", ""):
        body = {"error": "rate_limited", "message": message}
        return JSONResponse(body, status_code=429, headers=headers)
    page = f"<!doctype html><title>Too many checks</title><p>{message}</p>"
    return HTMLResponse(page, status_code=429, headers=headers)


async def _checker(
    request: Request, verdict: Verdict, now: dt.datetime, rows: list[Any]
) -> Checker | None:
    """The logged-in checker from their session's ``rows`` (read on the hot connection);
    through the ORM only when the session is to be written (its last-seen time is due,
    or it ended and the cookie goes)."""
    hot = request.app.state.hot
    today = verdict.member.today(now) if verdict.member else now.date()
    sid = request.session.get("sid")
    checker = checker_from(rows, now, today)
    if checker is not None and not checker.touch_due:
        return checker
    async with request.app.state.sessionmaker() as db:
        if await current_user(request, db) is None:
            return None
    return await find_checker(hot, sid, now, today)


async def _check_view(request: Request, member: MemberFacts) -> dict[str, Any]:
    """The marshal's view of the member, stored with their card and read with their
    facts (``FactsLookup.with_view``), or rebuilt if stale."""
    stored = member.check_view
    if stored is None:
        rebuilder = card_runtime.of(request.app).rebuilder
        built = await rebuilder.get(member.member_id, check_view=True)
        stored = built.check_view if built is not None and built.check_view else "{}"
    view: dict[str, Any] = json.loads(stored)
    return view


async def _marshal_view(
    request: Request, verdict: Verdict, now: dt.datetime, rows: list[Any]
) -> tuple[int | None, dict[str, Any]]:
    """Who is checking, and — for holders of ``check_cards`` — what else they see."""
    checker = await _checker(request, verdict, now, rows)
    if checker is None:
        return None, {}
    extra: dict[str, Any] = {"checker": checker.name}
    if "check_cards" not in checker.permissions:
        return checker.member_id, extra
    extra["marshal"] = True
    if verdict.code is not None:
        zone = verdict.member.time_zone if verdict.member else clock.DEFAULT_ZONE
        extra["issued_at"] = clock.stamp(zone, verdict.code.issued_at)
        extra["valid_until"] = clock.stamp(zone, verdict.code.valid_until)
        extra["age"] = _age(verdict.code.issued_at, now)
    if verdict.member is not None:
        extra.update(await _check_view(request, verdict.member))
        if "manage_members" in checker.permissions:
            extra["member_url"] = f"/checks/member/{verdict.member.member_id}"
    return checker.member_id, extra


async def check(request: Request) -> Response:
    """The live check (see ``server.checks.decide.decide`` for the steps).

    Also answers every other address under ``/check/`` that is no page of ours
    (``/check/hello-world``): not a code, so UNKNOWN, logged and rate-limited like any
    code that fails to verify.
    """
    app = request.app
    now = utcnow()
    lookup = runtime.lookup(app)
    # A logged-in checker may be a marshal, who is shown the member's stored view. Their
    # session is read beside the member's facts: on PostgreSQL the two queries travel at
    # once, on two pooled connections (on SQLite each takes microseconds on this thread).
    logged_in = request.scope.get("session", {}).get("uid") is not None
    session: asyncio.Future[list[Any]] | None = None
    rows: list[Any] | None = None
    if logged_in and app.state.hot.pool is not None:
        session = asyncio.ensure_future(session_rows(app.state.hot, request.session.get("sid")))
    try:
        verdict = await decide(
            request.path_params["code"],
            runtime.keyring(app),
            lookup.with_view if logged_in else lookup,
            now,
            lookup.voided,
        )
        if session is not None:
            rows = await session
    finally:
        if session is not None and not session.done():
            session.cancel()
    if verdict.code is None and verdict.result.key == "unknown":
        # Only codes that fail to verify count; a correctly signed one is always answered.
        client = client_key(request.client)
        wait = failure_limiter.retry_after(client)
        if wait:
            return _too_many(request, wait)
        failure_limiter.hit(client)
    checker_id: int | None = None
    extra: dict[str, Any] = {}
    if logged_in:
        if rows is None:
            rows = await session_rows(app.state.hot, request.session.get("sid"))
        checker_id, extra = await _marshal_view(request, verdict, now, rows)
    runtime.log_writer(app).add(entry_for(verdict, checker_id=checker_id, now=now))
    return _respond(request, verdict, extra)


async def keys(request: Request) -> Response:
    """Every public key (current, earlier and retired), for offline scanners."""
    ring = runtime.keyring(request.app)
    return JSONResponse(
        {"current": ring.current_id, "keys": ring.public_keys()},
        headers={"Cache-Control": "public, max-age=300"},
    )


@page("check_cards", json=True)
async def revoked(request: Request) -> Response:
    entries = await revocation_list(request.state.db)
    return JSONResponse(
        {"generated_at": int(utcnow().timestamp()), "entries": entries},
        headers={"Cache-Control": "no-store"},
    )


@page("manage_members")
async def revoke(request: Request) -> Response:
    db = request.state.db
    member = await db.get(Member, request.path_params["member_id"])
    if member is None or member.is_deleted:
        raise HTTPException(404, "There is no such member.")
    await require_may_act(request, member)
    form = FormReader(await request.form())
    reason = form.text("reason", "Reason", required=True, max_length=500)
    if not form.ok:  # nothing is revoked without a reason (it goes to the audit trail)
        return await reports.member_checks_page(
            request, member, errors=form.errors, reason=form.raw("reason"), status_code=400
        )
    await revoke_codes(db, member, request.state.user.id, reason)
    await db.commit()
    flash(
        request,
        f"Every check code issued to {member.display_name} until now is revoked. "
        "Their mobile card gets a new code at its next refresh; reprint the auth card.",
    )
    return RedirectResponse(f"/checks/member/{member.id}", status_code=303)


# The admin menu's links to this area's pages (``create_app`` adds them).
nav_links = [
    NavLink("Check log", "/checks", "view_reports", order=80, group=CHECKS),
    NavLink("Card scanner", "/check/scan/", "check_cards", order=81, group=CHECKS),
]

# The live check: also answered early, for visitors without a session, by
# ``server.web.hot_routes``.
LIVE_CHECK = Route("/check/{code:checkcode}", check, methods=["GET"])
routes: list[BaseRoute] = [
    LIVE_CHECK,  # first: the hot path
    Route("/check/keys.json", keys, methods=["GET"]),
    Route("/check/revoked.json", revoked, methods=["GET"]),
    *scanner.routes,
    Route("/members/{member_id:int}/revoke-codes", revoke, methods=["POST"]),
    *reports.routes,
    # Last: whatever else is under /check/ (a mistyped or cut-off link) is not a code.
    Route("/check/{code:path}", check, methods=["GET"]),
]
