"""Sessions in itsdangerous-signed cookies, written only when they change.

The cookie is only the carrier: a login lives as long as its server-side row
(``server.auth.sessions``) says, within ``MAX_AGE``, the longest lifetime the settings allow.

Paths under ``skip_prefixes`` (the card and its service worker) never read or set
a session cookie.
"""

from __future__ import annotations

import json
from base64 import b64decode, b64encode
from typing import Any

from itsdangerous import BadSignature, TimestampSigner
from starlette.datastructures import MutableHeaders
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

COOKIE_NAME = "tessera_session"
MAX_AGE = 90 * 24 * 3600


class SessionMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        secret_key: str,
        *,
        https_only: bool,
        skip_prefixes: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.signer = TimestampSigner(secret_key, salt="tessera.session")
        self.https_only = https_only
        self.skip_prefixes = skip_prefixes

    def _load(self, scope: Scope) -> dict[str, Any]:
        for name, value in scope["headers"]:
            if name != b"cookie":
                continue
            # Starlette's parser (``Request.cookies``), as lenient as browsers and a tenth
            # of ``http.cookies``' cost.
            found = cookie_parser(value.decode("latin-1")).get(COOKIE_NAME)
            if found is None:
                continue
            try:
                raw = self.signer.unsign(found.encode(), max_age=MAX_AGE)
                data = json.loads(b64decode(raw))
            except (BadSignature, ValueError):
                return {}
            return data if isinstance(data, dict) else {}
        return {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.skip_prefixes):
            await self.app(scope, receive, send)
            return
        session = self._load(scope)
        had_cookie = bool(session)
        original = json.dumps(session, sort_keys=True) if had_cookie else "{}"
        scope["session"] = session

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                current = scope["session"]
                if (current or had_cookie) and json.dumps(current, sort_keys=True) != original:
                    headers = MutableHeaders(scope=message)
                    secure = "; Secure" if self.https_only else ""
                    if current:
                        payload = b64encode(json.dumps(current).encode())
                        value = self.signer.sign(payload).decode()
                        headers.append(
                            "Set-Cookie",
                            f"{COOKIE_NAME}={value}; Path=/; Max-Age={MAX_AGE}; "
                            f"HttpOnly; SameSite=Lax{secure}",
                        )
                    elif had_cookie:
                        headers.append(
                            "Set-Cookie",
                            f"{COOKIE_NAME}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax{secure}",
                        )
            await send(message)

        await self.app(scope, receive, send_wrapper)
