"""Every wallet route, for ``server.app.ROUTE_MODULES``."""

from __future__ import annotations

from starlette.routing import BaseRoute

from server.wallet import apple_routes, member_routes, staff_routes

routes: list[BaseRoute] = [*member_routes.routes, *apple_routes.routes, *staff_routes.routes]
