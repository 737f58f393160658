"""The hot routes: answered before the session and routing layers, exactly as the whole
stack would answer them."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from server.app import HOT_ROUTES, build_routes, create_app
from server.checks import routes as check_routes
from server.web.headers import CSP, SecurityHeadersMiddleware
from server.web.hot_routes import HotRoutes
from server.web.observe import RequestObserver
from tests.check_fixtures import code_for, make_verified
from tests.factories import make_member

# --- the middleware on its own ------------------------------------------------------


async def _thing(request) -> Response:
    if request.path_params["name"] == "broken":
        raise RuntimeError("the endpoint failed")
    return PlainTextResponse(
        f"hot {request.path_params['name']}", headers={"Referrer-Policy": "no-referrer"}
    )


class _Stack:
    """Stands for everything behind the hot routes: says that it answered."""

    def __init__(self) -> None:
        self.paths: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.paths.append(scope["path"])
        await PlainTextResponse("the whole stack")(scope, receive, send)


@pytest.fixture
def stack() -> _Stack:
    return _Stack()


@pytest.fixture
async def hot_client(stack):
    routes = [
        Route(path, _thing, methods=["GET"]) for path in ("/thing/{name}", "/thing/open/{name}")
    ]
    app = HotRoutes(stack, routes=routes, sessionless=("/thing/open/",))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def test_a_matching_get_is_answered_without_the_stack(hot_client, stack):
    answer = await hot_client.get("/thing/lamp")
    assert answer.text == "hot lamp" and stack.paths == []
    # The security headers the stack would add, but never over the endpoint's own.
    assert answer.headers["content-security-policy"] == CSP
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers.get_list("referrer-policy") == ["no-referrer"]


@pytest.mark.parametrize(
    ("method", "path", "headers"),
    [
        ("GET", "/thing/lamp/more/", {}),  # another path
        ("GET", "/other", {}),
        ("HEAD", "/thing/lamp", {}),
        ("POST", "/thing/lamp", {}),
        ("GET", "/thing/lamp", {"Cookie": "tessera_session=abc"}),  # someone logged in
        ("GET", "/thing/lamp", {"Cookie": "a=1; tessera_session =abc"}),  # read leniently
    ],
)
async def test_everything_else_goes_through_the_stack(hot_client, stack, method, path, headers):
    answer = await hot_client.request(method, path, headers=headers)
    assert stack.paths == [path]
    assert method == "HEAD" or answer.text == "the whole stack"


async def test_a_session_cookie_does_not_matter_on_a_sessionless_path(hot_client, stack):
    answer = await hot_client.get("/thing/open/door", headers={"Cookie": "tessera_session=abc"})
    assert answer.text == "hot door" and stack.paths == []


async def test_an_endpoint_that_fails_is_answered_by_the_stack(hot_client, stack):
    answer = await hot_client.get("/thing/broken")
    assert answer.text == "the whole stack" and stack.paths == ["/thing/broken"]


def test_hot_routes_are_the_routers_own(settings):
    """Matched by the very routes the router holds: the same paths, the same endpoints;
    in the app right inside the access log, before the security headers and sessions."""
    routes = build_routes()
    assert all(any(route is hot for route in routes) for hot in HOT_ROUTES)
    layers = [m.cls for m in create_app(settings).user_middleware]
    assert layers[:3] == [RequestObserver, HotRoutes, SecurityHeadersMiddleware]


# --- in the app: the same answer as the whole stack ----------------------------------


@pytest.fixture(autouse=True)
def _reset_check_limits():
    check_routes.failure_limiter.reset()


def _seen(answer: httpx.Response) -> tuple[int, str, list[tuple[str, str]]]:
    headers = sorted((k, v) for k, v in answer.headers.items() if k not in ("date", "set-cookie"))
    return answer.status_code, answer.text, headers


async def _both(client: httpx.AsyncClient, path: str, **kw) -> tuple[httpx.Response, ...]:
    """``path`` for a visitor without a cookie (a hot route), then with a session
    cookie that names nobody (the whole stack, which finds nobody logged in)."""
    hot = await client.get(path, **kw)
    client.cookies.set("tessera_session", "not-a-session")
    try:
        whole = await client.get(path, **kw)
    finally:
        client.cookies.clear()
    return hot, whole


@pytest.mark.parametrize("accept", ["text/html", "application/json"])
async def test_a_check_is_answered_as_the_whole_stack_answers_it(app, client, db, accept):
    ok = await make_verified(db, sca_name="Aelfric <of> the Lake")
    lapsed = await make_verified(
        db, sca_name="Brana", membership_expires_on=dt.date.today() - dt.timedelta(days=3)
    )
    gone = await make_member(db, sca_name="Cuthbert", deleted_at=dt.datetime.now(dt.UTC))
    await db.commit()
    forged = code_for(app, ok)[:-4] + "AAAA"
    for code in (code_for(app, ok), code_for(app, lapsed), code_for(app, gone), forged):
        hot, whole = await _both(client, f"/check/{code}", headers={"Accept": accept})
        assert hot.status_code == 200
        assert _seen(hot) == _seen(whole)


async def test_a_flood_of_forged_codes_is_refused_on_the_hot_route_too(app, client, db):
    member = await make_verified(db)
    forged = code_for(app, member)[:-4] + "AAAA"
    limit = check_routes.failure_limiter.limit
    answers = [(await client.get(f"/check/{forged}")).status_code for _ in range(limit + 1)]
    assert answers == [200] * limit + [429]
    hot, whole = await _both(client, f"/check/{forged}")
    assert hot.status_code == 429 and _seen(hot) == _seen(whole)
