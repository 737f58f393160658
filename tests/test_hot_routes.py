"""The hot routes: answered before the session and routing layers, exactly as the whole
stack would answer them."""

from __future__ import annotations

import datetime as dt
import json
from base64 import b64encode
from collections.abc import AsyncIterator

import httpx
import pytest
from itsdangerous import TimestampSigner
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from server.app import HOT_ROUTES, build_routes, create_app
from server.checks import routes as check_routes
from server.web.headers import CSP, SecurityHeadersMiddleware
from server.web.hot_routes import HotRoutes
from server.web.observe import RequestObserver
from tests.check_fixtures import code_for, make_verified
from tests.factories import login, make_member, make_staff

# --- the middleware on its own ------------------------------------------------------

SECRET = "hot-routes-test-secret-" + "x" * 32


async def _thing(request) -> Response:
    if request.path_params["name"] == "broken":
        raise RuntimeError("the endpoint failed")
    session = request.scope.get("session")
    if session is not None and request.path_params["name"] == "visit":
        session["visits"] = session.get("visits", 0) + 1
    return PlainTextResponse(
        f"hot {request.path_params['name']} {session}",
        headers={"Referrer-Policy": "no-referrer"},
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
    app = HotRoutes(stack, routes=routes, sessionless=("/thing/open/",), secret_key=SECRET)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def test_a_matching_get_is_answered_without_the_stack(hot_client, stack):
    answer = await hot_client.get("/thing/lamp")
    assert answer.text == "hot lamp None" and stack.paths == []
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
    ],
)
async def test_everything_else_goes_through_the_stack(hot_client, stack, method, path, headers):
    answer = await hot_client.request(method, path, headers=headers)
    assert stack.paths == [path]
    assert method == "HEAD" or answer.text == "the whole stack"


async def test_a_session_cookie_does_not_matter_on_a_sessionless_path(hot_client, stack):
    answer = await hot_client.get("/thing/open/door", headers={"Cookie": "tessera_session=abc"})
    assert answer.text == "hot door None" and stack.paths == []


def _cookie(session: dict[str, object]) -> str:
    signer = TimestampSigner(SECRET, salt="tessera.session")
    return signer.sign(b64encode(json.dumps(session).encode())).decode()


@pytest.mark.parametrize("cookie", ["tessera_session=abc", "a=1; tessera_session =abc"])
async def test_a_session_cookie_that_names_nobody_is_read_as_no_session(hot_client, stack, cookie):
    answer = await hot_client.get("/thing/lamp", headers={"Cookie": cookie})
    assert answer.text == "hot lamp {}" and stack.paths == []
    assert "set-cookie" not in answer.headers


async def test_a_logged_in_visitor_is_answered_in_their_session(hot_client, stack):
    """The session layer around the endpoint: the signed cookie read, a changed session
    written back, an unchanged one left alone."""
    cookie = f"tessera_session={_cookie({'uid': 7})}"
    same = await hot_client.get("/thing/lamp", headers={"Cookie": cookie})
    assert same.text == "hot lamp {'uid': 7}" and "set-cookie" not in same.headers
    changed = await hot_client.get("/thing/visit", headers={"Cookie": cookie})
    assert changed.text == "hot visit {'uid': 7, 'visits': 1}" and stack.paths == []
    written = changed.headers["set-cookie"].split(";")[0].split("=", 1)[1]
    again = await hot_client.get("/thing/visit", headers={"Cookie": f"tessera_session={written}"})
    assert again.text == "hot visit {'uid': 7, 'visits': 2}"
    assert changed.headers["content-security-policy"] == CSP


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


@pytest.fixture
async def whole_client(settings) -> AsyncIterator[httpx.AsyncClient]:
    """The same app without the hot routes: every request through the whole stack."""
    whole = create_app(settings)
    whole.user_middleware = [m for m in whole.user_middleware if m.cls is not HotRoutes]
    async with whole.router.lifespan_context(whole):
        transport = httpx.ASGITransport(app=whole, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


async def _both(
    client: httpx.AsyncClient, whole: httpx.AsyncClient, path: str, **kw
) -> tuple[httpx.Response, ...]:
    """``path`` on the hot route and through the whole stack, with the same cookies."""
    whole.cookies = client.cookies
    return await client.get(path, **kw), await whole.get(path, **kw)


@pytest.mark.parametrize("accept", ["text/html", "application/json"])
@pytest.mark.parametrize("cookie", [None, "not-a-session"])
async def test_a_check_is_answered_as_the_whole_stack_answers_it(
    app, client, whole_client, db, accept, cookie
):
    ok = await make_verified(db, sca_name="Aelfric <of> the Lake")
    lapsed = await make_verified(
        db, sca_name="Brana", membership_expires_on=dt.date.today() - dt.timedelta(days=3)
    )
    gone = await make_member(db, sca_name="Cuthbert", deleted_at=dt.datetime.now(dt.UTC))
    await db.commit()
    forged = code_for(app, ok)[:-4] + "AAAA"
    if cookie:
        client.cookies.set("tessera_session", cookie)
    for code in (code_for(app, ok), code_for(app, lapsed), code_for(app, gone), forged):
        hot, whole = await _both(client, whole_client, f"/check/{code}", headers={"Accept": accept})
        assert hot.status_code == 200
        assert _seen(hot) == _seen(whole)


async def test_a_flood_of_forged_codes_is_refused_on_the_hot_route_too(
    app, client, whole_client, db
):
    member = await make_verified(db)
    forged = code_for(app, member)[:-4] + "AAAA"
    limit = check_routes.failure_limiter.limit
    answers = [(await client.get(f"/check/{forged}")).status_code for _ in range(limit + 1)]
    assert answers == [200] * limit + [429]
    hot, whole = await _both(client, whole_client, f"/check/{forged}")
    assert hot.status_code == 429 and _seen(hot) == _seen(whole)


@pytest.mark.parametrize("accept", ["text/html", "application/json"])
async def test_a_marshals_check_is_answered_as_the_whole_stack_answers_it(
    app, client, whole_client, db, accept
):
    """The scanner's call: a logged-in marshal's session cookie, read on the hot route."""
    marshal = await make_staff(db, ["check_cards", "manage_members"], sca_name="Osric")
    member = await make_verified(db, sca_name="Aelfric <of> the Lake")
    await db.commit()
    assert (await login(client, marshal.email)).status_code == 303
    path = f"/check/{code_for(app, member)}"
    hot, whole = await _both(client, whole_client, path, headers={"Accept": accept})
    assert hot.status_code == 200 and "Osric" in hot.text and "Aelfric" in hot.text
    assert _seen(hot) == _seen(whole)
