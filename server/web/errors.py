"""Error pages: every failure answers with a page or JSON that says what happened."""

from __future__ import annotations

import logging
import socket
import sqlite3

import asyncpg
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from server import logs
from server.cards.rebuild import RebuilderStopped
from server.db.busy import RETRY_AFTER_SECONDS, is_busy
from server.db.outage import unreachable
from server.db.unique import is_unique_violation
from server.web.slashes import slash_twin
from server.web.templating import render

log = logging.getLogger("tessera")

TITLES = {
    400: "Bad request",
    401: "Please log in",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    409: "Changed by someone else",
    410: "Gone",
    413: "Too large",
    429: "Too many requests",
    500: "Something went wrong",
    503: "Busy, try again",
}


def wants_json(request: Request) -> bool:
    """A ``.json`` address, or a client that asks for JSON first (scripts)."""
    return (
        request.url.path.endswith(".json")
        or "application/json" in request.headers.get("accept", "").split(",")[0]
    )


def error_response(request: Request, status: int, detail: str) -> Response:
    if wants_json(request):
        return JSONResponse({"error": detail, "status": status}, status_code=status)
    return render(
        request,
        "errors/error.html",
        {"status": status, "title": TITLES.get(status, "Error"), "detail": detail},
        status_code=status,
    )


async def http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    detail = exc.detail
    if exc.status_code == 404 and detail == "Not Found":
        twin = slash_twin(request)  # the router found no route: /login/ for /login?
        if twin is not None:
            return RedirectResponse(twin, status_code=307)
        detail = "There is no page at this address."
    if exc.status_code == 405:
        detail = "This address does not accept that kind of request."
    response = error_response(request, exc.status_code, detail)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    # Starlette raises it again after this answer, and uvicorn would log the same
    # traceback a second time ("Exception in ASGI application"): the log drops that one.
    logs.mark_logged(exc)
    return error_response(
        request, 500, "The server could not finish this request. Nothing was saved."
    )


# How long a client is asked to wait when the database cannot be reached (a restart).
UNREACHABLE_RETRY_AFTER_SECONDS = 10


async def database_error(request: Request, exc: Exception) -> Response:
    """A database too busy to answer in time, or that cannot be reached (stopped,
    restarting, the network cut): 503 with ``Retry-After`` and one log line; the
    request's transaction did not commit, so nothing of it was written. A unique
    constraint's refusal (two requests saving the same name at once, on PostgreSQL): 409.
    Other errors: 500 with the traceback in the log."""
    reason = unreachable(exc)
    if reason is not None:
        log.warning(
            "database unreachable: %s %s answered 503 (%s)",
            request.method,
            request.url.path,
            reason,
        )
        response = error_response(
            request,
            503,
            "The database cannot be reached right now. Nothing was saved; try again in a minute.",
        )
        response.headers["Retry-After"] = str(UNREACHABLE_RETRY_AFTER_SECONDS)
        return response
    if is_unique_violation(exc):
        log.warning(
            "unique constraint: %s %s answered 409 (saved twice at once?): %s",
            request.method,
            request.url.path,
            str(exc).splitlines()[0][:300],
        )
        return error_response(
            request,
            409,
            "Someone else saved the same thing at the same moment (the same name, email "
            "or code). Nothing was saved: reload the page to see theirs, and try again.",
        )
    if not is_busy(exc):
        return await server_error(request, exc)
    log.warning("database busy: %s %s answered 503", request.method, request.url.path)
    response = error_response(
        request,
        503,
        "The database is busy right now. Nothing was saved; try again in a moment.",
    )
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


async def stopping(request: Request, exc: Exception) -> Response:
    """The server is shutting down (a deploy, a restart): try again in a moment."""
    response = error_response(request, 503, "The server is restarting; try again in a moment.")
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


async def changed_meanwhile(request: Request, exc: Exception) -> Response:
    """Someone saved the same record between this request's read and its write (the
    version check failed): nothing was saved; reload and try again."""
    return error_response(
        request,
        409,
        "Someone else changed this record while you were working on it. Nothing was "
        "saved: reload the page and try again.",
    )


async def csrf_rejected(request: Request, reason: str) -> Response:
    return error_response(request, 403, reason)


exception_handlers = {
    HTTPException: http_exception,
    StaleDataError: changed_meanwhile,
    RebuilderStopped: stopping,
    DBAPIError: database_error,
    sqlite3.Error: database_error,
    # The hot paths' raw asyncpg connections, and a connection the network dropped:
    # handled here (not by Starlette's last-resort handler, which logs a second
    # traceback) so an outage is a 503, a busy row a 503, anything else one 500.
    asyncpg.PostgresError: database_error,
    asyncpg.InterfaceError: database_error,
    ConnectionError: database_error,
    socket.gaierror: database_error,
    TimeoutError: database_error,  # asyncpg's command_timeout: the database did not answer
    Exception: server_error,
}
