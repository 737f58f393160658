"""Background tasks that run inside ``serve`` (nightly jobs, mail delivery).

Each area appends an ``async def task(app)`` to ``TASKS``; it runs until cancelled.
``AT_SHUTDOWN`` holds what must run once when the server stops (writing what is still
buffered), with or without background jobs.
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
AT_SHUTDOWN: list[Task] = []


async def _guarded(task: Task, app: Starlette) -> None:
    try:
        await task(app)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("background task %s stopped", getattr(task, "__name__", task))


async def _shutdown(app: Starlette) -> None:
    for hook in AT_SHUTDOWN:
        try:
            await hook(app)
        except Exception:
            log.exception("shutdown hook %s failed", getattr(hook, "__name__", hook))


@contextlib.asynccontextmanager
async def running(app: Starlette) -> AsyncIterator[None]:
    if not app.state.settings.run_background_jobs:
        try:
            yield
        finally:
            await _shutdown(app)
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
        await _shutdown(app)
