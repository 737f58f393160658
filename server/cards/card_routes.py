"""The card itself: ``/card/{token}`` (HTML), ``.json``, the per-card manifest, ``/sw.js``.

Answers (fixed vocabulary): 200 card · 304 unchanged · 404 unknown link · 410 replaced
or revoked · 429 too many unknown links from this client. Every answer is
``no-store``, ``no-referrer``, self-only CSP; no cookie is read or set (the session
middleware skips ``/card/``). Every answer names itself in ``X-Tessera-Card`` (``card``,
``unknown``, ``revoked``, ``rate_limited``): the card app drops its saved copy only on
this server's own "unknown" or "revoked", never on a Wi-Fi portal's page or a proxy's 404.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from server.cards import runtime as card_runtime
from server.cards.tokens import card_path, hash_token, looks_like_token
from server.web.ratelimit import RateLimiter, client_key
from server.web.templating import ROOT

PWA_DIR = ROOT / "pwa"
CARD_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; manifest-src 'self'; worker-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
CARD_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": CARD_CSP,
    "X-Robots-Tag": "noindex",
}
ANSWER_HEADER = "X-Tessera-Card"
REVOKED_TEXT = "This card link was replaced or revoked."
UNKNOWN_TEXT = "There is no card at this address."

# Unknown tokens per client address: a few typos are fine, guessing is not (the
# address's valid cards are answered all the same).
unknown_limiter = RateLimiter(limit=20, window=600)


class Found:
    __slots__ = ("body", "etag")

    def __init__(self, body: str, etag: str) -> None:
        self.body = body
        self.etag = etag


async def find(request: Request, token: str) -> Found | int:
    """The card for ``token``, or the status code to answer with (404, 410, 429).

    1. Something that cannot be a token, or a token no link has → 404, counted against
       the client; a client with too many of those lately → 429. Only unknown tokens
       count: a valid card is always answered.
    2. A revoked or replaced link → 410.
    3. A fresh stored payload → served as stored (no ORM, no write).
    4. A stale one → rebuilt now, in a batch with the other cards asked for meanwhile
       (``server.cards.rebuild``); a deleted member's card → 410.
    """
    cards = card_runtime.of(request.app)
    row = await cards.reader.fetch(hash_token(token)) if looks_like_token(token) else None
    if row is None:
        client = client_key(request.client)
        if unknown_limiter.retry_after(client):
            return 429
        unknown_limiter.hit(client)
        return 404
    if row.revoked:
        return 410
    cards.usage.touch(row.link_id, request.app.state.engine)
    if row.fresh(time.time()) and row.body is not None and row.etag is not None:
        return Found(row.body, row.etag)
    built = await cards.rebuilder.get(row.member_id)
    if built is None:  # the member was deleted: the card is gone for good
        return 410
    return Found(built.body, built.etag)


def _problem(request: Request, status: int, as_json: bool) -> Response:
    headers = dict(CARD_HEADERS)
    if status == 429:
        headers["Retry-After"] = str(unknown_limiter.retry_after(client_key(request.client)))
    text = {
        404: UNKNOWN_TEXT,
        410: REVOKED_TEXT,
        429: "Too many unknown card links from your address. Wait a little and try again.",
    }[status]
    code = {404: "unknown", 410: "revoked", 429: "rate_limited"}[status]
    headers[ANSWER_HEADER] = code
    if as_json:
        return JSONResponse({"error": code, "message": text}, status_code=status, headers=headers)
    html = request.app.state.templates.get_template("cards/problem.html").render(
        {"status": status, "code": code, "message": text}
    )
    return HTMLResponse(html, status_code=status, headers=headers)


async def card_json(request: Request) -> Response:
    found = await find(request, request.path_params["token"])
    if isinstance(found, int):
        return _problem(request, found, as_json=True)
    headers = {**CARD_HEADERS, "ETag": found.etag, ANSWER_HEADER: "card"}
    if request.headers.get("if-none-match") == found.etag:
        return Response(status_code=304, headers=headers)
    return Response(found.body, media_type="application/json", headers=headers)


async def card_page(request: Request) -> Response:
    token = request.path_params["token"]
    found = await find(request, token)
    if isinstance(found, int):
        return _problem(request, found, as_json=False)
    data: dict[str, Any] = json.loads(found.body)
    html = request.app.state.templates.get_template("cards/card.html").render(
        {
            "card": data,
            "card_path": card_path(token),
            "served_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "wallets": request.app.state.settings.wallet.offered(),
        }
    )
    return HTMLResponse(html, headers={**CARD_HEADERS, "ETag": found.etag, ANSWER_HEADER: "card"})


ICONS = [
    {"src": "/pwa/icons/icon-192.png", "sizes": "192x192", "type": "image/png", "purpose": "any"},
    {"src": "/pwa/icons/icon-512.png", "sizes": "512x512", "type": "image/png", "purpose": "any"},
    {
        "src": "/pwa/icons/maskable-512.png",
        "sizes": "512x512",
        "type": "image/png",
        "purpose": "maskable",
    },
]


async def card_manifest(request: Request) -> Response:
    token = request.path_params["token"]
    found = await find(request, token)
    if isinstance(found, int):
        return _problem(request, found, as_json=True)
    data = json.loads(found.body)
    name = data["member"]["sca_name"] or data["member"]["legal_name"] or "Member"
    start = card_path(token)
    manifest = {
        "id": start,
        "name": f"{data['org']['title']} card · {name}",
        "short_name": f"{name.split(' ')[0]} card"[:24],
        "description": f"Member card of {name} ({data['org']['kingdom']}), works offline.",
        "start_url": start,
        "scope": start,
        "display": "standalone",
        "orientation": "portrait",
        "background_color": data["org"]["color"],
        "theme_color": data["org"]["color"],
        "icons": ICONS,
    }
    return JSONResponse(
        manifest,
        media_type="application/manifest+json",
        headers={**CARD_HEADERS, ANSWER_HEADER: "card"},
    )


async def service_worker(request: Request) -> Response:
    return FileResponse(
        PWA_DIR / "sw.js",
        media_type="text/javascript",
        headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/card/"},
    )


# The card app's refresh: also answered early by ``server.web.hot_routes``.
CARD_JSON = Route("/card/{token}.json", card_json, methods=["GET"])
routes = [
    Route("/sw.js", service_worker, methods=["GET"]),
    CARD_JSON,
    Route("/card/{token}/manifest.webmanifest", card_manifest, methods=["GET"]),
    Route("/card/{token}", card_page, methods=["GET"]),
    Mount("/pwa", StaticFiles(directory=PWA_DIR), name="pwa"),
]
