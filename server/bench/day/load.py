"""The day's load process: ``python -m server.bench.day.load PLAN``.

Opens its connections and logs its officers and marshals in, prints ``READY``, waits
for a line on stdin (the start of the day), drives every class for the plan's seconds,
and prints one ``RESULT {json}`` line: per class the requests, p50, p99 and errors, and
the process's own CPU time (a saturated load generator shows as ~100 % of a core).
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from server.bench.browser import Browser
from server.bench.day import traffic
from server.bench.day.plan import (
    CARD,
    CHECK,
    LIST,
    OFFICER,
    REFRESH,
    REGISTER,
    SCANNER,
    STATUS,
    Plan,
)

Loop = Callable[[traffic.Day, Browser], Awaitable[None]]
LOOPS: dict[str, Loop] = {
    CARD: traffic.card_json,
    REFRESH: traffic.card_refresh,
    CHECK: traffic.check,
    SCANNER: traffic.scanner,
    LIST: traffic.officer,
    REGISTER: traffic.registration,
    STATUS: traffic.status_actions,
}
LOGGED_IN = (SCANNER, LIST, STATUS)
LOGIN_PATIENCE = 120.0  # seconds for every connection to log in before the day


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _connections(plan: Plan) -> list[tuple[str, Browser]]:
    """(class, browser) for every connection; logged in where the class needs it."""
    opened: list[tuple[str, Browser]] = []
    for name, count in plan.connections.per_class().items():
        if name in OFFICER[1:] or (plan.reference and name == STATUS):
            continue  # an officer connection asks for all three; the reference has no pacing
        for _ in range(count):
            browser = Browser(plan.base_url)
            if name in LOGGED_IN and not plan.reference:
                await browser.log_in(plan.officer_email, plan.officer_password)
            opened.append((name, browser))
    return opened


def _loop(plan: Plan, day: traffic.Day, name: str, browser: Browser) -> Awaitable[None]:
    if not plan.reference:
        return LOOPS[name](day, browser)
    if name == LIST:
        return traffic.bare_officer(day, browser)
    return traffic.reference(day, browser, name)


async def main(plan: Plan) -> None:
    day = traffic.Day(plan)
    async with asyncio.timeout(LOGIN_PATIENCE):
        connections = await _connections(plan)
    print("READY", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    cpu_before = _cpu_seconds()
    started = time.monotonic()
    day.deadline = started + plan.seconds
    await asyncio.gather(*(_loop(plan, day, name, browser) for name, browser in connections))
    elapsed = time.monotonic() - started
    for _, browser in connections:
        browser.close()
    classes = {name: tally.summary() for name, tally in day.tallies.items()}
    if plan.reference:
        del classes[STATUS]  # paced: no reference
    result = {"seconds": elapsed, "cpu_seconds": _cpu_seconds() - cpu_before, "classes": classes}
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    asyncio.run(main(Plan.read(Path(sys.argv[1]))))
