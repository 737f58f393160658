"""Known devices: a browser where an account logged in before is let in past the locks
that strangers trip.

Five wrong passwords lock an account and thirty failures hold back a client address,
whoever typed them: without this, anyone who knows the admin's address keeps them locked
out with one wrong password a minute, and one guesser behind an event's Wi-Fi keeps every
marshal there from logging in. After a login the browser gets a signed cookie (its own
random device id and the login emails used in it, the last ``KEEP``); a later login to one
of those emails from that browser is counted under the device, not the address, and the
right password opens the account even while strangers' failures hold it locked. Wrong
passwords from a known device still count towards the lock; once the device itself has
failed as often as locks the account, the lock holds it too; and its failures are limited
like an address's.
"""

from __future__ import annotations

import secrets
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

COOKIE = "tessera_device"
MAX_AGE = 180 * 24 * 3600
KEEP = 5


def _serializer(request: Request) -> URLSafeTimedSerializer:
    secret = str(request.app.state.settings.secret_key)
    return URLSafeTimedSerializer(secret, salt="tessera.device")


def _read(request: Request) -> tuple[str, list[str]] | None:
    raw = request.cookies.get(COOKIE)
    if not raw or len(raw) > 4096:
        return None
    try:
        data: Any = _serializer(request).loads(raw, max_age=MAX_AGE)
    except (BadSignature, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    device, emails = data.get("d"), data.get("e")
    if not isinstance(device, str) or not isinstance(emails, list):
        return None
    return device, [e for e in emails if isinstance(e, str)]


def known_device(request: Request, email: str) -> str | None:
    """This browser's device id when ``email`` logged in here before, else None."""
    found = _read(request)
    key = email.strip().lower()
    if found is None or not key or key not in found[1]:
        return None
    return found[0]


def remember(request: Request, response: Response, email_key: str) -> None:
    """After a login: add ``email_key`` to this browser's known logins."""
    found = _read(request)
    device, emails = found if found is not None else (secrets.token_urlsafe(16), [])
    emails = [e for e in emails if e != email_key][-(KEEP - 1) :] + [email_key]
    value = _serializer(request).dumps({"d": device, "e": emails})
    response.set_cookie(
        COOKIE,
        value,
        max_age=MAX_AGE,
        path="/login",
        httponly=True,
        samesite="lax",
        secure=bool(request.app.state.settings.https),
    )
