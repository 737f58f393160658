"""``/healthz`` (liveness), ``/readyz`` (readiness) and ``/metrics`` (Prometheus).

None of them reads or writes a session, and none leaves an access-log line. The
probes answer JSON. ``/metrics`` answers clients on the machine itself (a loopback
address, and none of the headers a local proxy adds for outside clients:
``X-Forwarded-For``, ``Forwarded``, ``X-Real-IP``, ``X-Forwarded-Proto``/``-Host``) and anyone sending ``Authorization: Bearer <TESSERA_METRICS_TOKEN>``.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server.database import utcnow
from server.db.outage import unreachable
from server.health import exposition, readiness
from server.health.figures import Figures, gather

log = logging.getLogger("tessera.health")
NO_STORE = {"Cache-Control": "no-store"}
# A request carrying any of these came through a proxy (for someone elsewhere), even
# from a loopback address: a proxy set up to pass only X-Real-IP or the scheme counts.
PROXY_HEADERS = (
    "x-forwarded-for",
    "forwarded",
    "x-real-ip",
    "x-forwarded-proto",
    "x-forwarded-host",
)


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"}, headers=NO_STORE)


async def readyz(request: Request) -> Response:
    settings = request.app.state.settings
    result = await readiness.check(
        request.app.state.engine, settings.database_url, settings.data_dir
    )
    return JSONResponse(
        result.as_dict(), status_code=200 if result.ready else 503, headers=NO_STORE
    )


def _is_loopback(host: str | None) -> bool:
    """127.0.0.0/8 and ::1, also as a server listening on ``::`` sees an IPv4 client
    (``::ffff:127.0.0.1``)."""
    try:
        address = ipaddress.ip_address(host) if host is not None else None
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address is not None and address.is_loopback


def metrics_refusal(request: Request) -> Response | None:
    """None when the scraper may read the metrics; otherwise the refusal."""
    token = request.app.state.settings.metrics_token
    given = request.headers.get("authorization", "")
    if token is not None and given.startswith("Bearer "):
        if hmac.compare_digest(given[7:].strip().encode(), str(token).encode()):
            return None
        return _refusal(403, "The metrics token is wrong.")
    proxied = any(name in request.headers for name in PROXY_HEADERS)
    if not proxied and _is_loopback(request.client.host if request.client else None):
        return None
    if token is None:
        return _refusal(403, "Metrics are served to this machine only (set TESSERA_METRICS_TOKEN).")
    return _refusal(401, "Send the metrics token: Authorization: Bearer <token>.")


def _refusal(status: int, message: str) -> Response:
    headers = {**NO_STORE, **({"WWW-Authenticate": "Bearer"} if status == 401 else {})}
    return JSONResponse(
        {"error": "forbidden" if status == 403 else "token_required", "message": message},
        status_code=status,
        headers=headers,
    )


async def metrics(request: Request) -> Response:
    refusal = metrics_refusal(request)
    if refusal is not None:
        return refusal
    app = request.app
    figures: Figures | None
    try:
        # A database that does not answer (a network cut without a reset) must not hang
        # the scrape: past the readiness probe's patience the figures are "down".
        async with asyncio.timeout(readiness.TIMEOUT), app.state.sessionmaker() as db:
            figures = await gather(db, utcnow())
            await db.rollback()
    except TimeoutError:
        log.warning("metrics: the database did not answer within %g s", readiness.TIMEOUT)
        figures = None
    except Exception as exc:
        reason = unreachable(exc)
        if reason is None:
            log.warning("metrics: the database figures could not be read", exc_info=True)
        else:  # tessera_database_up 0 says it; one line, not a traceback per scrape
            log.warning("metrics: the database cannot be reached (%s)", reason)
        figures = None
    checks = getattr(app.state, "checks", None)  # set in the lifespan
    backlog = len(checks.log.pending) if checks is not None else 0
    counts, latency = app.state.request_metrics.totals()
    body = exposition.render(counts, latency, figures, backlog)
    return Response(body, media_type=CONTENT_TYPE_LATEST, headers=NO_STORE)


routes = [
    Route("/healthz", healthz, methods=["GET"]),
    Route("/readyz", readyz, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
]
