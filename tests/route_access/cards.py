"""The mobile card and its PWA files (issue 4): ``server/cards/card_routes.py``.

Card pages take a bearer token; the pages that issue card links are in card_links."""

from __future__ import annotations

from tests.route_access import ANYONE

EXPECTED = {
    ("GET", "/pwa"): ANYONE,
    ("GET", "/sw.js"): ANYONE,
    ("GET", "/card/{token}"): ANYONE,
    ("GET", "/card/{token}.json"): ANYONE,
    ("GET", "/card/{token}/manifest.webmanifest"): ANYONE,
}
