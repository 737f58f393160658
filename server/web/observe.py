"""Times every request for the access log and the request metrics (pure ASGI).

Health probes and metric scrapes are counted but never logged: a probe every few
seconds would bury the requests people make. At shutdown (the ASGI lifespan) what
is still buffered is written.
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.health.requests import RequestMetrics
from server.web.access_log import AccessLog

QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class RequestObserver:
    def __init__(
        self, app: ASGIApp, *, metrics: RequestMetrics, access_log: AccessLog | None
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                send = self._flushing_at_shutdown(send)
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            duration = time.perf_counter() - start
            path = scope["path"]
            self.metrics.observe(path, status, duration)
            if self.access_log is not None and path not in QUIET_PATHS:
                self.access_log.add(time.time(), scope["method"], path, status, duration)

    def _flushing_at_shutdown(self, send: Send) -> Send:
        async def send_and_flush(message: Message) -> None:
            if message["type"] in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
                if self.access_log is not None:
                    self.access_log.flush()
                self.metrics.publish()
            await send(message)

        return send_and_flush
