"""The reference: a bare Starlette JSON route, served the same way as Tessera
(``server.bench.served``)."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def reference(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True, "path": request.url.path})


app = Starlette(routes=[Route("/reference.json", reference)])
