"""Background tasks that run inside ``serve`` (nightly jobs, mail delivery).

``create_app`` names them (``server.app.BACKGROUND_TASKS``); each is an
``async def task(app)`` that runs until cancelled, and is cancelled when the server stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

from starlette.applications import Starlette

log = logging.getLogger("tessera.background")

Task = Callable[[Starlette], Awaitable[None]]


async def _guarded(task: Task, app: Starlette) -> None:
    try:
        await task(app)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("background task %s stopped", getattr(task, "__name__", task))


@contextlib.asynccontextmanager
async def running(app: Starlette, tasks: Sequence[Task]) -> AsyncIterator[None]:
    """``tasks`` running while the app serves (unless background jobs are off)."""
    if not app.state.settings.run_background_jobs:
        yield
        return
    started = [asyncio.create_task(_guarded(t, app)) for t in tasks]
    try:
        yield
    finally:
        for t in started:
            t.cancel()
        for t in started:
            with contextlib.suppress(asyncio.CancelledError):
                await t
