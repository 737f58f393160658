"""The marshals' offline scanner: an installable PWA under ``/check/scan/``.

The page, its worker (scope ``/check/scan/``) and manifest are served here; the
scanner's logic is ``static/scan/scanner.js``. It verifies codes offline with the
public keys from ``/check/keys.json``, refuses codes on the cached
``/check/revoked.json``, says whose card it is from the cached roster
(``/check/scan/roster.json``, ``server.checks.roster``), asks the live check when it
has signal, and uploads what it checked offline to ``/check/scan/log`` (session
cookie + CSRF header).
"""

from __future__ import annotations

import json
from dataclasses import asdict

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from server import clock
from server.auth.guards import page
from server.checks import roster, runtime
from server.checks.results import RESULTS
from server.checks.uploads import UploadRefused, accept_upload
from server.database import utcnow
from server.web.csrf import csrf_token
from server.web.json_body import parse_json
from server.web.templating import ROOT, render

SCAN_STATIC = ROOT / "static" / "scan"
MAX_UPLOAD_BYTES = 512 * 1024
# Marks the scanner's own pages: its worker saves nothing else in their place (a Wi-Fi
# sign-in portal's page, say).
SCANNER_PAGE = "X-Tessera-Scanner"


async def scan_redirect(request: Request) -> Response:
    return RedirectResponse("/check/scan/", status_code=308)


@page("check_cards")
async def scan(request: Request) -> Response:
    vocabulary = [asdict(r) for r in RESULTS]
    zone = clock.zone_of(request.state.site).key
    response = render(request, "checks/scan.html", {"vocabulary": vocabulary, "time_zone": zone})
    response.headers["Cache-Control"] = "no-cache"
    response.headers[SCANNER_PAGE] = "page"
    return response


@page(anonymous=True)
async def about(request: Request) -> Response:
    response = render(request, "checks/about.html", {})
    response.headers[SCANNER_PAGE] = "page"
    return response


async def service_worker(request: Request) -> Response:
    return Response(
        (SCAN_STATIC / "sw.js").read_bytes(),
        media_type="text/javascript",
        # Scope /check/: a card's check link opened without signal gets the saved scanner.
        headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/check/"},
    )


async def manifest(request: Request) -> Response:
    data = {
        "name": "Tessera card scanner",
        "short_name": "Scanner",
        "description": "Check member cards at events, with or without signal.",
        "id": "/check/scan/",
        "start_url": "/check/scan/",
        "scope": "/check/scan/",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#5b2a86",
        "icons": [
            {"src": "/static/scan/icon-192.png", "sizes": "192x192", "type": "image/png"},
            {"src": "/static/scan/icon-512.png", "sizes": "512x512", "type": "image/png"},
            {
                "src": "/static/scan/icon-512.png",
                "sizes": "512x512",
                "type": "image/png",
                "purpose": "maskable",
            },
        ],
    }
    return Response(json.dumps(data), media_type="application/manifest+json")


@page("check_cards", json=True)
async def session_info(request: Request) -> Response:
    """Fresh CSRF token and who is logged in: the scanner asks before each upload."""
    return JSONResponse(
        {"csrf": csrf_token(request.session), "marshal": request.state.user.display_name},
        headers={"Cache-Control": "no-store"},
    )


@page("check_cards", json=True)
async def upload_log(request: Request) -> Response:
    body = await request.body()
    if len(body) > MAX_UPLOAD_BYTES:
        return JSONResponse({"error": "The upload is too large."}, status_code=413)
    try:
        payload = parse_json(body)
    except ValueError:
        return JSONResponse({"error": "The upload is not JSON."}, status_code=400)
    db = request.state.db
    try:
        outcome = await accept_upload(
            db, payload, request.state.user.id, runtime.keyring(request.app), utcnow()
        )
    except UploadRefused as refused:
        return JSONResponse({"error": str(refused)}, status_code=400)
    await db.commit()
    return JSONResponse(outcome)


routes = [
    Route("/check/scan", scan_redirect, methods=["GET"]),
    Route("/check/scan/", scan, methods=["GET"]),
    Route("/check/scan/about", about, methods=["GET"]),
    Route("/check/scan/sw.js", service_worker, methods=["GET"]),
    Route("/check/scan/manifest.webmanifest", manifest, methods=["GET"]),
    Route("/check/scan/session.json", session_info, methods=["GET"]),
    Route("/check/scan/roster.json", roster.roster, methods=["GET"]),
    Route("/check/scan/log", upload_log, methods=["POST"]),
]
