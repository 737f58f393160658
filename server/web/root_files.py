"""Files that browsers and phones ask for at the site's root without being told where.

A browser that finds no ``<link rel="icon">`` (a marshal's in-app browser opening a check
link, a bookmark) asks for ``/favicon.ico``; iOS asks for ``/apple-touch-icon.png`` when
a page is added to the home screen (older iOS first for ``/apple-touch-icon-precomposed.png``).
All are answered with the app's icon, not a 404.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from server.web.templating import ROOT

CACHE = {"Cache-Control": "public, max-age=86400"}


async def favicon(request: Request) -> Response:
    return FileResponse(ROOT / "static" / "favicon.ico", media_type="image/x-icon", headers=CACHE)


async def apple_touch_icon(request: Request) -> Response:
    return FileResponse(
        ROOT / "pwa" / "icons" / "apple-touch-icon.png", media_type="image/png", headers=CACHE
    )


routes = [
    Route("/favicon.ico", favicon, methods=["GET"]),
    Route("/apple-touch-icon.png", apple_touch_icon, methods=["GET"]),
    Route("/apple-touch-icon-precomposed.png", apple_touch_icon, methods=["GET"]),
]
