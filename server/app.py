"""Application factory: routes and middleware from each area, built from settings."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from server import background
from server.applicants import admin_routes as applicant_admin_routes
from server.applicants import routes as applicant_routes
from server.audit import routes as audit_routes
from server.auth import routes as auth_routes
from server.authcards import routes as authcard_routes
from server.authcards.qr import fill_qr_slot
from server.cards import card_routes
from server.cards import link_routes as card_link_routes
from server.cards.reader import CardReader, UsageTracker
from server.cards.rebuild import CardRebuilder
from server.cards.rebuild_process import RebuilderProcess
from server.cards.runtime import CardRuntime, Rebuilder
from server.checks import routes as check_routes
from server.checks import runtime as check_runtime
from server.checks.answer import CheckPage
from server.checks.authcard_part import printed_check_qr
from server.checks.log import CheckLogWriter
from server.checks.lookup import FactsLookup
from server.checks.runtime import CheckRuntime
from server.config import Settings, load_settings
from server.db.engine import make_engine, make_sessionmaker
from server.db.hot import HotConnections
from server.db.target import DatabaseTarget
from server.groups import routes as group_routes
from server.health import routes as health_routes
from server.health.requests import RequestMetrics
from server.home import routes as home_routes
from server.logs import access_log
from server.mail import routes as outbox_routes
from server.mail.delivery import delivery_task
from server.member_codes import routes as member_code_routes
from server.members import action_routes as member_action_routes
from server.members import branch_routes
from server.members import confirm as member_confirm
from server.members import export as member_export
from server.members import profile_routes as member_profile_routes
from server.members import routes as member_routes
from server.nightly.scheduler import daily_nightly_jobs
from server.photos import routes as photo_routes
from server.plugins import registry as plugin_registry
from server.proofs import routes as proof_routes
from server.settings import routes as settings_routes
from server.wallet import routes as wallet_routes
from server.wallet.worker import WalletWorker
from server.web import navigation, root_files
from server.web.access_log import install as install_log_redaction
from server.web.csrf import CSRFMiddleware
from server.web.errors import csrf_rejected, exception_handlers
from server.web.headers import SecurityHeadersMiddleware
from server.web.hot_routes import HotRoutes
from server.web.observe import RequestObserver
from server.web.sessions import SessionMiddleware
from server.web.templating import ROOT, make_templates

# Paths that never read or set a session cookie (bearer-token pages and their assets).
SESSIONLESS_PREFIXES = (
    "/card/",
    "/sw.js",
    "/static/",
    "/pwa/",
    "/favicon.ico",
    "/apple-touch-icon",  # .png and -precomposed.png
    "/healthz",
    "/readyz",
    "/metrics",
    "/wallet/",
)
# Paths whose unsafe requests authenticate otherwise than by session cookie (Apple
# Wallet's web service: the pass's own token).
CSRF_EXEMPT_PREFIXES: tuple[str, ...] = ("/wallet/apple/",)
# The routes most requests go to, answered before the session and routing layers.
HOT_ROUTES = [card_routes.CARD_JSON, check_routes.LIVE_CHECK]

log = logging.getLogger("tessera.app")
STOP_SECONDS = 10.0  # each part of stopping that needs the database gets this long

ROUTE_MODULES: list[Any] = [
    card_routes,  # first: the card is the hot path, and routes match in order
    check_routes,  # /check/{code} early: the marshal check is a hot path
    authcard_routes,
    auth_routes,
    home_routes,
    member_profile_routes,
    member_routes,
    member_action_routes,
    member_confirm,
    member_export,
    audit_routes,
    group_routes,
    branch_routes,
    applicant_routes,
    applicant_admin_routes,
    member_code_routes,
    photo_routes,
    proof_routes,
    card_link_routes,
    settings_routes,
    wallet_routes,
    outbox_routes,
    health_routes,
    root_files,
]


# What runs inside ``serve`` besides the requests (``server.background``).
BACKGROUND_TASKS: list[background.Task] = [daily_nightly_jobs, delivery_task]


def build_routes() -> list[BaseRoute]:
    routes: list[BaseRoute] = []
    for module in ROUTE_MODULES:
        routes.extend(module.routes)
    for plugin in plugin_registry.discover():
        routes.extend(plugin.routes)
    routes.append(Mount("/static", StaticFiles(directory=ROOT / "static"), name="static"))
    return routes


def build_menu() -> None:
    """The admin menu: each area's ``nav_links`` (plugins' join when they are installed)."""
    for module in ROUTE_MODULES:
        for link in getattr(module, "nav_links", ()):
            navigation.add(link)


def _at_stop(
    stack: contextlib.AsyncExitStack, what: str, close: Callable[[], Awaitable[object]]
) -> None:
    """``close`` when the app stops, given at most ``STOP_SECONDS``: a database that does
    not answer (a network that swallows packets) must not keep the server from stopping."""

    async def bounded() -> None:
        try:
            await asyncio.wait_for(close(), STOP_SECONDS)
        except TimeoutError:
            log.warning(
                "stopping: %s did not finish in %.0f s (the database does not answer?); "
                "stopping without it",
                what,
                STOP_SECONDS,
            )

    stack.push_async_callback(bounded)


async def open_resources(app: Starlette, stack: contextlib.AsyncExitStack) -> None:
    """Every per-app resource; ``stack`` closes them in reverse order at shutdown."""
    settings: Settings = app.state.settings
    engine = app.state.engine
    _at_stop(stack, "closing the database connections", engine.dispose)
    hot = await HotConnections(DatabaseTarget.parse(settings.database_url)).open()
    _at_stop(stack, "closing the hot-path connections", hot.close)
    app.state.hot = hot
    checks = CheckRuntime(
        settings,
        FactsLookup(hot),
        CheckPage(app.state.templates.env),
        CheckLogWriter(app.state.sessionmaker, hot),
    )
    app.state.checks = checks
    # A clean stop writes the checks still in memory.
    _at_stop(stack, "writing the last checks to the check log", checks.log.close)
    rebuilder: Rebuilder = (
        RebuilderProcess(settings, sweep=settings.run_background_jobs)
        if settings.card_rebuilder == "process"
        else CardRebuilder(settings, sweep=settings.run_background_jobs)
    )
    rebuilder.start()
    stack.push_async_callback(rebuilder.stop)
    usage = UsageTracker()
    _at_stop(stack, "recording when cards were last used", lambda: usage.flush(engine))
    app.state.cards = CardRuntime(CardReader(hot), usage, rebuilder)
    if settings.wallet.any and settings.run_background_jobs:
        wallet = WalletWorker(app.state.sessionmaker, settings)
        wallet.start()
        stack.push_async_callback(wallet.stop)


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or load_settings()
    engine = make_engine(settings.database_url)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        install_log_redaction()
        async with contextlib.AsyncExitStack() as stack:
            await open_resources(app, stack)
            async with background.running(app, BACKGROUND_TASKS):
                yield

    request_metrics = RequestMetrics.from_environment()
    middleware = [
        Middleware(
            RequestObserver, metrics=request_metrics, access_log=access_log(settings.access_log)
        ),
        Middleware(
            HotRoutes,
            routes=HOT_ROUTES,
            sessionless=SESSIONLESS_PREFIXES,
            secret_key=str(settings.secret_key),
            https=settings.https,
        ),
        Middleware(SecurityHeadersMiddleware, https=settings.https),
        Middleware(
            SessionMiddleware,
            secret_key=str(settings.secret_key),
            https_only=settings.https,
            skip_prefixes=SESSIONLESS_PREFIXES,
        ),
        Middleware(CSRFMiddleware, reject=csrf_rejected, exempt_prefixes=CSRF_EXEMPT_PREFIXES),
    ]
    build_menu()
    fill_qr_slot(printed_check_qr)  # the printed auth card's QR: a check code
    app = Starlette(
        routes=build_routes(),
        middleware=middleware,
        exception_handlers=exception_handlers,
        lifespan=lifespan,
    )
    app.router.redirect_slashes = False  # relative, on the router's 404: server.web.slashes
    app.state.settings = settings
    app.state.engine = engine
    app.state.request_metrics = request_metrics
    app.state.sessionmaker = make_sessionmaker(engine)
    app.state.templates = make_templates()
    check_runtime.bind_settings(engine, settings)
    return app
