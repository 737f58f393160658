"""Apple's pass web service (``webServiceURL`` = ``BASE_URL/wallet/apple``), version 1.

- ``POST   /v1/devices/{device}/registrations/{type}/{serial}`` — a device asks for
  updates of a pass (body ``{"pushToken": …}``): 201 registered, 200 already was.
- ``DELETE /v1/devices/{device}/registrations/{type}/{serial}`` — it no longer does: 200.
- ``GET    /v1/devices/{device}/registrations/{type}?passesUpdatedSince=TAG`` — which
  of its passes changed since TAG: 200 ``{"serialNumbers": […], "lastUpdated": TAG}``
  or 204. Apple sends no token here; the answer holds serial numbers only.
- ``GET    /v1/passes/{type}/{serial}`` — the pass as it is now (304 when not modified
  since ``If-Modified-Since``); a voided pass comes back with ``voided: true``.
- ``POST   /v1/log`` — the device's error messages, written to the server log.

Requests about one pass carry ``Authorization: ApplePass <token>``; a wrong or missing
token, or an unknown serial, answers 401 and counts against the client (after 20 failures
in 10 minutes, further failures answer 429; the right token is always answered, as a
valid card is). Before answering which passes changed, and before sending a pass,
the passes concerned are brought up to date (``server.wallet.refresh``), so a device
always gets what the card shows now. No session, no CSRF token (the device is no
browser); the access log redacts device ids and serials. Without Apple Wallet
configured, or for another pass type, every route answers 404.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import re
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server import clock
from server.audit.log import record
from server.config import Settings
from server.db.transactions import lock_for_write
from server.wallet import tokens
from server.wallet.apple_pass import pkpass_bytes
from server.wallet.config import AppleWallet
from server.wallet.models import WalletDevice, WalletPass
from server.wallet.pkpass import MEDIA_TYPE
from server.wallet.refresh import refresh
from server.web.json_body import parse_json
from server.web.ratelimit import RateLimiter, client_key

log = logging.getLogger("tessera.wallet")

PREFIX = "/wallet/apple/v1"
DEVICE_RE = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
PUSH_TOKEN_RE = re.compile(r"^[A-Za-z0-9]{1,200}$")
SERIAL_IN_TEXT = re.compile(r"[0-9a-f]{32}")  # serials stay out of the server log
MAX_BODY = 64 * 1024
MAX_LOG_LINES = 20
HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}

failures = RateLimiter(limit=20, window=600)
device_logs = RateLimiter(limit=60, window=3600)


def _empty(status: int) -> Response:
    return Response(status_code=status, headers=HEADERS)


def _error(status: int, message: str) -> Response:
    return JSONResponse({"error": message}, status_code=status, headers=HEADERS)


def _apple(request: Request) -> AppleWallet | None:
    """The Apple configuration, if this request is for our pass type."""
    apple: AppleWallet | None = request.app.state.settings.wallet.apple
    pass_type = request.path_params.get("pass_type")
    if apple is None or (pass_type is not None and pass_type != apple.pass_type_id):
        return None
    return apple


async def _authorised(request: Request, db: AsyncSession) -> WalletPass | Response:
    """The pass named in the path, if the request carries its token; else 401/429."""
    serial = request.path_params["serial"]
    given = tokens.from_header(request.headers.get("authorization"))
    wallet_pass = None
    if tokens.SERIAL_RE.match(serial):
        wallet_pass = (
            await db.execute(
                select(WalletPass).where(WalletPass.serial == serial, WalletPass.wallet == "apple")
            )
        ).scalar_one_or_none()
    stored = wallet_pass.auth_token_hash if wallet_pass is not None else None
    if wallet_pass is None or not tokens.token_matches(given, stored):
        client = client_key(request.client)
        if failures.retry_after(client):
            return _error(429, "Too many failed requests; wait a little.")
        failures.hit(client)
        return _empty(401)
    return wallet_pass


async def _json_body(request: Request) -> dict[str, Any] | None:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            return None
    try:
        data = parse_json(body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


async def register(request: Request) -> Response:
    if _apple(request) is None:
        return _empty(404)
    device_id = request.path_params["device"]
    async with request.app.state.sessionmaker() as db:
        found = await _authorised(request, db)
        if isinstance(found, Response):
            return found
        data = await _json_body(request)
        push_token = data.get("pushToken") if data else None
        if not (DEVICE_RE.match(device_id) and isinstance(push_token, str)):
            return _error(400, "Send a JSON body with the device's pushToken.")
        if not PUSH_TOKEN_RE.match(push_token):
            return _error(400, "The pushToken is not a push token.")
        now = clock.now()
        await lock_for_write(db)
        device = (
            await db.execute(
                select(WalletDevice)
                .where(WalletDevice.pass_id == found.id, WalletDevice.device_id == device_id)
                .with_for_update()
            )
        ).scalar_one_or_none()
        status = 201
        if device is None:
            db.add(
                WalletDevice(
                    pass_id=found.id, device_id=device_id, push_token=push_token, registered_at=now
                )
            )
        elif device.ended_at is None:
            device.push_token = push_token
            status = 200
        else:
            device.push_token, device.registered_at = push_token, now
            device.ended_at, device.end_reason = None, ""
        if status == 201:
            record(
                db,
                actor_id=None,
                action="wallet.device_registered",
                entity=found,
                member_id=found.member_id,
                after={"serial": found.serial},
            )
        try:
            await db.commit()
        except IntegrityError:  # registered twice at once: the other one stands
            await db.rollback()
            status = 200
    return _empty(status)


async def unregister(request: Request) -> Response:
    if _apple(request) is None:
        return _empty(404)
    async with request.app.state.sessionmaker() as db:
        found = await _authorised(request, db)
        if isinstance(found, Response):
            return found
        await lock_for_write(db)
        device = (
            await db.execute(
                select(WalletDevice)
                .where(
                    WalletDevice.pass_id == found.id,
                    WalletDevice.device_id == request.path_params["device"],
                    WalletDevice.ended_at.is_(None),
                )
                .with_for_update()
            )
        ).scalar_one_or_none()
        if device is not None:
            device.ended_at, device.end_reason = clock.now(), "unregistered by the device"
            record(
                db,
                actor_id=None,
                action="wallet.device_unregistered",
                entity=found,
                member_id=found.member_id,
                after={"serial": found.serial},
            )
        await db.commit()
    return _empty(200)


def _since(value: str | None) -> int:
    """The device's tag, or -1 (every pass) for anything else; ASCII digits only ("²" is
    a digit to ``str.isdigit`` but not to ``int``)."""
    return int(value) if value and re.fullmatch(r"[0-9]{1,20}", value) else -1


async def updated_serials(request: Request) -> Response:
    if _apple(request) is None:
        return _empty(404)
    settings: Settings = request.app.state.settings
    device_id = request.path_params["device"]
    if not DEVICE_RE.match(device_id):
        return _empty(204)
    since = _since(request.query_params.get("passesUpdatedSince"))
    async with request.app.state.sessionmaker() as db:
        registered = select(WalletDevice.pass_id).where(
            WalletDevice.device_id == device_id, WalletDevice.ended_at.is_(None)
        )
        pass_ids = list((await db.execute(registered)).scalars())
        if not pass_ids:
            return _empty(204)
        await refresh(db, settings, pass_ids)
        # On PostgreSQL, wait for changes of these passes in flight (``server.wallet.tags``);
        # SQLite's write lock already orders them.
        rows = (
            await db.execute(
                select(WalletPass.serial, WalletPass.tag)
                .where(WalletPass.id.in_(pass_ids))
                .order_by(WalletPass.id)
                .with_for_update()
            )
        ).all()
        await db.commit()
    changed = [serial for serial, tag in rows if tag > since]
    if not changed:
        return _empty(204)
    latest = max(tag for _, tag in rows)
    return JSONResponse({"serialNumbers": changed, "lastUpdated": str(latest)}, headers=HEADERS)


def _not_modified(request: Request, updated_at: dt.datetime) -> bool:
    value = request.headers.get("if-modified-since")
    if not value:
        return False
    try:
        since = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return False
    if since.tzinfo is None:
        since = since.replace(tzinfo=dt.UTC)
    return updated_at.replace(microsecond=0) <= since


async def latest_pass(request: Request) -> Response:
    apple = _apple(request)
    if apple is None:
        return _empty(404)
    settings: Settings = request.app.state.settings
    async with request.app.state.sessionmaker() as db:
        found = await _authorised(request, db)
        if isinstance(found, Response):
            return found
        await refresh(db, settings, [found.id])
        await db.refresh(found)
        await db.commit()
        headers = {
            **HEADERS,
            "Last-Modified": email.utils.format_datetime(found.updated_at, usegmt=True),
        }
        if _not_modified(request, found.updated_at):
            return Response(status_code=304, headers=headers)
        await db.execute(
            update(WalletPass)
            .where(WalletPass.id == found.id)
            .values(last_fetched_at=clock.now())
            .execution_options(synchronize_session=False)
        )
        await db.commit()
    token = tokens.from_header(request.headers.get("authorization")) or ""
    return Response(
        pkpass_bytes(found, apple, token, settings.base_url), media_type=MEDIA_TYPE, headers=headers
    )


async def device_log(request: Request) -> Response:
    if _apple(request) is None:
        return _empty(404)
    client = client_key(request.client)
    if device_logs.retry_after(client):
        return _error(429, "Too many log messages; wait a little.")
    device_logs.hit(client)
    data = await _json_body(request)
    lines = data.get("logs") if data else None
    if not isinstance(lines, list):
        return _error(400, 'Send a JSON body {"logs": [...]}.')
    for line in lines[:MAX_LOG_LINES]:
        if isinstance(line, str):
            # No control characters (a terminal escape, a carriage return, a NUL) reach
            # the log from a client nobody authenticated.
            printable = "".join(c if c.isprintable() else " " for c in line[:500])
            text = SERIAL_IN_TEXT.sub("[serial]", printable)
            log.warning("Apple Wallet device reports: %s", text)
    return _empty(200)


routes = [
    Route(
        PREFIX + "/devices/{device}/registrations/{pass_type}/{serial}",
        register,
        methods=["POST"],
    ),
    Route(
        PREFIX + "/devices/{device}/registrations/{pass_type}/{serial}",
        unregister,
        methods=["DELETE"],
    ),
    Route(PREFIX + "/devices/{device}/registrations/{pass_type}", updated_serials, methods=["GET"]),
    Route(PREFIX + "/passes/{pass_type}/{serial}", latest_pass, methods=["GET"]),
    Route(PREFIX + "/log", device_log, methods=["POST"]),
]
