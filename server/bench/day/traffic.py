"""The day's request classes: what each connection asks for, in turn, until the end.

Every request is timed from sending to the last byte of the answer and counted for its
class; an answer other than the expected one, a refused action, a timeout or a broken
connection is an error. In reference mode every class asks the bare route instead, on
the same connections, so each class has a reference measured the same way.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import re
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TypeVar

from server.bench.browser import Browser, Reply
from server.bench.day.plan import (
    CARD,
    CHECK,
    DETAIL,
    LIST,
    OFFICER,
    REFRESH,
    REGISTER,
    SCANNER,
    SEARCH,
    STATUS,
    Plan,
)

TIMEOUT = 10.0  # seconds one request may take before it counts as failed
SAMPLES = 5  # error descriptions kept per class
VERSION = re.compile(rb'name="version" value="(\d+)"')
T = TypeVar("T")


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: int = 0
    samples: list[str] = field(default_factory=list)

    def fail(self, what: str) -> None:
        self.errors += 1
        if len(self.samples) < SAMPLES:
            self.samples.append(what)

    def summary(self) -> dict[str, object]:
        ordered = sorted(self.latencies)

        def pct(p: float) -> float:
            return ordered[min(len(ordered) - 1, int(len(ordered) * p))] if ordered else 0.0

        return {
            "requests": len(ordered),
            "p50_ms": pct(0.50) * 1000,
            "p99_ms": pct(0.99) * 1000,
            "max_ms": (ordered[-1] if ordered else 0.0) * 1000,
            "errors": self.errors,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "samples": self.samples,
        }


def _cycle(items: list[T]) -> Iterator[T]:
    """The items in a random order of their own, again and again."""
    shuffled = list(items)
    random.shuffle(shuffled)
    return itertools.cycle(shuffled)


class Day:
    """The shared state of one load process: the plan, a tally per class, the pools."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.tallies = {name: Tally() for name in plan.connections.per_class()}
        self.deadline = float("inf")
        self.tokens = _cycle(plan.tokens)
        self.refresh = _cycle(plan.refresh)
        self.etags = dict(plan.refresh)  # what each card app has stored
        self.check_codes = _cycle(plan.codes)
        self.scanner_codes = _cycle(plan.codes)
        self.member_ids = _cycle(plan.member_ids)
        self.searches = _cycle(plan.searches)
        self.list_queries = _cycle(plan.list_queries)
        self.status_members = _cycle(plan.status_member_ids)
        self.applicants = itertools.count(1)

    def running(self) -> bool:
        return time.monotonic() < self.deadline

    async def ask(
        self,
        name: str,
        browser: Browser,
        method: str,
        path: str,
        *,
        expect: tuple[int, ...] = (200,),
        headers: dict[str, str] | None = None,
        fields: dict[str, str] | None = None,
        record: bool = True,
    ) -> Reply | None:
        """One timed request for class ``name``; None when it failed."""
        tally = self.tallies[name]
        started = time.perf_counter()
        try:
            async with asyncio.timeout(TIMEOUT):
                if fields is not None:
                    reply = await browser.post_form(path, fields, headers)
                else:
                    reply = await browser.request(method, path, headers)
        except TimeoutError:
            tally.fail(f"{method} {_shown(path)}: no answer in {TIMEOUT:.0f} s")
            return None
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            tally.fail(f"{method} {_shown(path)}: {type(exc).__name__} {exc}"[:200])
            return None
        if record:
            tally.latencies.append(time.perf_counter() - started)
            tally.statuses[reply.status] += 1
        if reply.status not in expect:
            tally.fail(f"{method} {_shown(path)}: HTTP {reply.status}")
            return None
        return reply


def _shown(path: str) -> str:
    """A path fit for the report: no card token, no check code."""
    for prefix in ("/card/", "/check/"):
        if path.startswith(prefix):
            return prefix + "…"
    return path


# --- the classes ---------------------------------------------------------------------


async def card_json(day: Day, browser: Browser) -> None:
    """A phone opening its card for the first time today: no ETag, so a 200."""
    while day.running():
        await day.ask(CARD, browser, "GET", f"/card/{next(day.tokens)}.json")


async def card_refresh(day: Day, browser: Browser) -> None:
    """The card app's refresh: the ETag it stored; a new payload replaces it."""
    while day.running():
        token, _ = next(day.refresh)
        etag = day.etags.get(token, "")
        reply = await day.ask(
            REFRESH,
            browser,
            "GET",
            f"/card/{token}.json",
            expect=(200, 304),
            headers={"If-None-Match": etag} if etag else None,
        )
        if reply is not None and reply.status == 200:
            day.etags[token] = reply.headers.get("etag", "")


async def check(day: Day, browser: Browser) -> None:
    """Someone scans a card with the phone's camera app: the anonymous HTML answer."""
    while day.running():
        await day.ask(CHECK, browser, "GET", f"/check/{next(day.check_codes)}")


async def scanner(day: Day, browser: Browser) -> None:
    """The marshals' scanner (``static/scan/scanner.js`` ``liveCheck``): the marshal's
    session cookie and ``Accept: application/json``; the answer must be a marshal's."""
    while day.running():
        reply = await day.ask(
            SCANNER,
            browser,
            "GET",
            f"/check/{next(day.scanner_codes)}",
            headers={"Accept": "application/json"},
        )
        if reply is not None and b'"marshal":true' not in reply.body:
            day.tallies[SCANNER].fail("the answer was not a logged-in marshal's")


async def officer(day: Day, browser: Browser) -> None:
    """An officer at work: the list with filters, a search, a member's page, in turn."""
    while day.running():
        await day.ask(LIST, browser, "GET", next(day.list_queries))
        if not day.running():
            break
        await day.ask(SEARCH, browser, "GET", next(day.searches))
        if not day.running():
            break
        await day.ask(DETAIL, browser, "GET", f"/members/{next(day.member_ids)}")


async def registration(day: Day, browser: Browser) -> None:
    """Applicants, one after another, each a new visitor from an address of their own
    (through the proxy ``serve`` trusts): the form, then the filled-in form."""
    while day.running():
        n = next(day.applicants)
        browser.cookies.clear()
        address = {"X-Forwarded-For": f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"}
        form = await day.ask(REGISTER, browser, "GET", "/register", headers=address)
        if form is None:
            continue
        fields = {
            "csrf_token": form.csrf(),
            "sca_name": f"Applicant {n}",
            "first_name": "Bench",
            "last_name": f"Applicant{n}",
            "email": f"applicant{n}.{random.getrandbits(32):08x}@bench.example.org",
            "birth_month": str(n % 12 + 1),
            "birth_year": "1990",
            "branch_id": str(random.choice(day.plan.branch_ids)),
            "accept_terms": "on",
        }
        reply = await day.ask(
            REGISTER, browser, "POST", "/register", headers=address, fields=fields
        )
        if reply is not None and b"Thank you" not in reply.body:
            day.tallies[REGISTER].fail("the application was not received")


async def status_actions(day: Day, browser: Browser) -> None:
    """One status action a second: deactivate a member, then reactivate them, through
    the member's status page (its version and CSRF token) as an officer clicks it."""
    started = time.monotonic()
    for tick in itertools.count():
        pause = started + tick - time.monotonic()
        if pause > 0:
            await asyncio.sleep(pause)
        if not day.running():
            break
        await _status_action(day, browser, next(day.status_members))


async def _status_action(day: Day, browser: Browser, member_id: int) -> None:
    tally = day.tallies[STATUS]
    page_path = f"/members/{member_id}/status"
    page = await day.ask(STATUS, browser, "GET", page_path, record=False)
    version = None if page is None else VERSION.search(page.body)
    if page is None or version is None:
        if page is not None:
            tally.fail(f"GET {page_path}: no status actions on the page")
        return
    fields = {"csrf_token": page.csrf(), "version": version.group(1).decode(), "back": page_path}
    if f'action="/members/{member_id}/reactivate"'.encode() in page.body:
        action = "reactivate"
    else:
        action = "deactivate"
        fields["reason"] = "Benchmark: a status action"
    path = f"/members/{member_id}/{action}"
    reply = await day.ask(STATUS, browser, "POST", path, expect=(303,), fields=fields)
    if reply is None:
        return
    after = await day.ask(STATUS, browser, "GET", reply.headers["location"], record=False)
    if after is not None and b"flash-error" in after.body:
        tally.fail(f"POST {path}: refused")


async def reference(day: Day, browser: Browser, name: str) -> None:
    """The bare route, asked on this class's connection as fast as it answers."""
    while day.running():
        await day.ask(name, browser, "GET", "/reference.json")


async def bare_officer(day: Day, browser: Browser) -> None:
    while day.running():
        for name in OFFICER:
            await day.ask(name, browser, "GET", "/reference.json")
