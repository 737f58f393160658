"""Background tasks that run inside ``serve`` (nightly jobs, mail delivery).

Each area appends an ``async def task(app)`` to ``TASKS``; it runs until cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from starlette.applications import Starlette

log = logging.getLogger("tessera.background")

Task = Callable[[Starlette], Awaitable[None]]
TASKS: list[Task] = []


async def _guarded(task: Task, app: Starlette) -> None:
    try:
        await task(app)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("background task %s stopped", getattr(task, "__name__", task))


@contextlib.asynccontextmanager
async def running(app: Starlette) -> AsyncIterator[None]:
    if not app.state.settings.run_background_jobs:
        yield
        return
    tasks = [asyncio.create_task(_guarded(t, app)) for t in TASKS]
    try:
        yield
    finally:
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
