"""Every route of the app, and who gets in: anonymous, member, staff without, staff with.

The expected access lives in ``tests/route_access/`` (one table per area); a route the
app serves but no table names fails this test, so new routes cannot slip by unchecked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx
import pytest
from starlette.routing import Mount, Route

from server.auth import permissions as catalogue
from server.members.models import Member
from server.web.ratelimit import RateLimiter
from tests.factories import csrf_from, login, make_group, make_member, make_staff
from tests.route_access import (
    ANYONE,
    MEMBER,
    STAFF,
    SUPERUSER,
    Rule,
    expected,
    json_routes,
    session_enders,
)


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """This test posts to every endpoint; leave no limiter exhausted for later tests."""
    RateLimiter.reset_all()
    yield
    RateLimiter.reset_all()


PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")


def app_routes(app) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for route in app.routes:
        if isinstance(route, Route):
            for method in route.methods or ():
                if method != "HEAD":
                    found.add((method, route.path))
        elif isinstance(route, Mount):
            found.add(("GET", route.path))
    return found


def test_every_route_is_in_the_access_table(app):
    served, table = app_routes(app), set(expected())
    missing = sorted(served - table)
    stale = sorted(table - served)
    assert not missing, (
        "routes without an expected-access entry (add them to tests/route_access/<area>.py): "
        f"{missing}"
    )
    assert not stale, f"access-table entries for routes the app does not serve: {stale}"
    stale_json = sorted(json_routes() - served)
    assert not stale_json, f"JSON entries for routes the app does not serve: {stale_json}"


@dataclass
class Principal:
    name: str
    member: Member | None
    cookies: dict[str, str]
    token: str


def json_refusal_problem(response: httpx.Response) -> str | None:
    """What is wrong with a JSON endpoint's refusal, if anything (scripts read it)."""
    if response.status_code not in (401, 403):
        return f"answered {response.status_code} instead of 401/403"
    if not response.headers.get("content-type", "").startswith("application/json"):
        return f"answered {response.headers.get('content-type')} instead of JSON"
    body = response.json()
    if not (isinstance(body, dict) and body.get("error") and body.get("message")):
        return f"answered {body!r} without an error and a message"
    expected_error = "login_required" if response.status_code == 401 else None
    if expected_error and body["error"] != expected_error:
        return f"answered error {body['error']!r} instead of {expected_error!r}"
    return None


def denied(response: httpx.Response) -> bool:
    """Refused: 401/403, or sent to log in first (logout's own redirect is not a refusal)."""
    location = response.headers.get("location", "")
    return response.status_code in (401, 403) or (
        response.is_redirect and location.startswith("/login?next=")
    )


class Principals:
    """Logged-in clients made on demand and reused (logging in costs an argon2 hash)."""

    def __init__(self, client: httpx.AsyncClient, db) -> None:
        self.client = client
        self.db = db
        self.cache: dict[str, Principal] = {}

    async def get(self, name: str, member_factory) -> Principal:
        if name not in self.cache:
            member = await member_factory() if member_factory else None
            await self.db.commit()
            self.client.cookies.clear()
            if member is not None:
                assert (await login(self.client, member.email)).status_code == 303
            token = await csrf_from(self.client, "/login")
            self.cache[name] = Principal(name, member, dict(self.client.cookies), token)
        return self.cache[name]

    async def for_rule(self, rule: Rule) -> list[tuple[Principal, bool]]:
        """(principal, may enter) for the four kinds of visitor this rule separates."""
        db = self.db
        every = [p.key for p in catalogue.catalogue()]
        anonymous = await self.get("anonymous", None)
        member = await self.get("member", lambda: make_member(db))
        if rule == ANYONE:
            return [(anonymous, True), (member, True)]
        if rule == MEMBER:
            return [(anonymous, False), (member, True)]
        if rule == STAFF:
            staff = await self.get("staff", lambda: make_staff(db, []))
            return [(anonymous, False), (member, False), (staff, True)]
        if rule == SUPERUSER:
            all_perms = await self.get("all-perms", lambda: make_staff(db, every))
            root = await self.get(
                "superuser", lambda: make_member(db, is_superuser=True, is_staff=True)
            )
            return [(anonymous, False), (member, False), (all_perms, False), (root, True)]
        needed = (rule,) if isinstance(rule, str) else rule
        assert set(needed) <= set(every), f"unknown permission in rule {rule}"
        others = [p for p in every if p not in needed]
        without = await self.get(f"without:{needed}", lambda: make_staff(db, others))
        result = [(anonymous, False), (member, False), (without, False)]
        for key in needed:
            result.append((await self.get(f"with:{key}", lambda k=key: make_staff(db, [k])), True))
        return result


async def test_who_gets_into_every_route(app, client, db):
    target = await make_member(db, email="target@example.org")
    group = await make_group(db)
    from server.groups.models import GroupMembership

    membership = GroupMembership(group_id=group.id, member_id=target.id, since=group.since)
    db.add(membership)
    await db.commit()
    samples = {"group_id": group.id, "membership_id": membership.id, "token": "not-a-token"}
    principals = Principals(client, db)
    problems: list[str] = []
    declared_json = json_routes()
    enders = session_enders()
    for (method, path), rule in sorted(expected().items(), key=lambda kv: (kv[0] in enders, kv)):
        if (method, path) in enders:
            principals.cache.clear()  # the last visit ended their sessions: log in afresh
        is_json = (method, path) in declared_json or path.endswith(".json")
        if path == "/static":
            path = "/static/css/site.css"
        for principal, may_enter in await principals.for_rule(rule):
            # Member routes act on the visitor's own record; admin routes on another member.
            own = principal.member or principals.cache["member"].member
            member_id = own.id if rule in (ANYONE, MEMBER) else target.id
            values = {**samples, "member_id": member_id}
            url = PARAM.sub(lambda m, v=values: str(v.get(m.group(1), 1)), path)
            client.cookies.clear()
            client.cookies.update(principal.cookies)
            if method == "GET":
                response = await client.get(url)
            else:
                response = await client.request(method, url, data={"csrf_token": principal.token})
            if response.status_code >= 500:
                problems.append(f"{method} {url} as {principal.name}: {response.status_code}")
            elif denied(response) == may_enter:
                verdict = "kept out" if may_enter else "let in"
                problems.append(
                    f"{method} {path} ({rule}) as {principal.name}: {verdict} "
                    f"({response.status_code})"
                )
            elif is_json and not may_enter:
                problem = json_refusal_problem(response)
                if problem:
                    problems.append(f"{method} {path} (JSON) refusing {principal.name}: {problem}")
    assert not problems, "\n".join(problems)
