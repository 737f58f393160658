"""A path with a slash too many or too few (``/login/``, ``/check/scan``) is sent to the
one that has a page, by a relative redirect.

Starlette's router does this itself (``redirect_slashes``), with an absolute address
built from the request's ``Host`` header: ``Host: evil.example`` was answered
``Location: http://evil.example/login``, and behind a proxy that passes its own upstream
address as the host (nginx's default, ``127.0.0.1:8000``) the browser was sent there.
``create_app`` turns that off; the router's 404 (``server.web.errors``) asks
``slash_twin`` instead, and the redirect names only the path (and query), which the
browser resolves against the address it asked.
"""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.routing import Match


def slash_twin(request: Request) -> str | None:
    """Where a request that found no route has its page: its path with the trailing
    slashes taken off, or one added, and its query; None when neither has a page."""
    path = request.scope["path"]
    if path == "/":
        return None
    twin = path.rstrip("/") if path.endswith("/") else path + "/"
    if not twin.startswith("/") or twin.startswith("//"):
        return None  # never an address a browser reads as another host's
    routes = request.app.router.routes
    if any(route.matches(request.scope)[0] is not Match.NONE for route in routes):
        return None  # a route's own 404 (no such member, no such file): not the router's
    scope = {**request.scope, "path": twin}
    if all(route.matches(scope)[0] is Match.NONE for route in routes):
        return None
    query = request.scope.get("query_string", b"").decode("latin-1")
    return quote(twin, safe="/:@!$&'()*+,;=-._~") + (f"?{query}" if query else "")
