"""Bad input to every form: missing, oversized, malformed and hostile fields, unknown ids,
wrong methods and wrong content types get a 4xx or a form error — never a 500 — and a
refused request leaves every table exactly as it was.

The forms are found by crawling every GET page of the app as a superuser, so forms other
areas add are covered without listing them here.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from sqlalchemy import text
from starlette.routing import Mount

import server.models  # noqa: F401  (every table in the metadata)
from server.database import Base
from server.groups.models import GroupMembership
from server.web.ratelimit import RateLimiter
from tests.applicant_fixtures import make_agreement, make_applicant
from tests.factories import csrf_from, login, make_branch, make_group, make_member
from tests.route_access import expected, session_enders


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """This test posts to every endpoint; leave no limiter exhausted for later tests."""
    RateLimiter.reset_all()
    yield
    RateLimiter.reset_all()


PARAM = re.compile(r"\{(\w+)(?::\w+)?\}")
SCRIPT = '<script>alert("tessera")</script>'
HOSTILE = SCRIPT + "'\"; DROP TABLE members;-- \u202e ../../etc/passwd %00 \U0001d54f"
VARIANTS: dict[str, str | None] = {
    "missing": None,
    "oversized": "x" * 20_000,
    "hostile": HOSTILE,
    "null byte": "a\x00b",
    "huge number": "9" * 30,
    # A Python int, but past PostgreSQL's INTEGER: asyncpg refuses to send it.
    "integer overflow": str(2**31),
    "negative": "-1",
    "impossible date": "2024-02-30",
    # 252 characters, 492 once lowered ("İ" lowers to two): the email's lowered key.
    "lowering grows": "\u0130" * 240 + "@example.org",
    # Fields holding JSON (the settings' additional-info fields): Python's json gives up.
    "deep JSON": "[" * 4000 + "]" * 4000,
}


class FormFinder(HTMLParser):
    """Collects ``<form method=post>``: action and the names of its fields."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[tuple[str, set[str]]] = []
        self._current: tuple[str, set[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form" and (a.get("method") or "").lower() == "post":
            self._current = (a.get("action") or "", set())
            self.forms.append(self._current)
        elif (
            tag in ("input", "select", "textarea")
            and self._current
            and a.get("name") not in (None, "csrf_token")
        ):
            self._current[1].add(a["name"] or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None


async def table_counts(db) -> tuple[int, ...]:
    """Row counts of every table, in one query."""
    tables = [t.name for t in Base.metadata.sorted_tables]
    sql = "SELECT " + ", ".join(f'(SELECT count(*) FROM "{name}")' for name in tables)
    row = (await db.execute(text(sql))).one()
    await db.commit()
    return tuple(row)


async def test_malformed_input_never_breaks_anything(app, client, db):
    # A branch and an agreement and an applicant: forms that pick a branch (registration, member codes)
    # show the field, and their own pages are there to crawl.
    branch = await make_branch(db)
    agreement = await make_agreement(db, branch_id=branch.id)
    applicant = await make_applicant(db)
    target = await make_member(db, email="target@example.org", branch_id=branch.id)
    root = await make_member(db, is_superuser=True, is_staff=True)
    group = await make_group(db, permissions=["check_cards"])
    membership = GroupMembership(group_id=group.id, member_id=target.id, since=group.since)
    db.add(membership)
    await db.commit()
    await login(client, root.email)
    token = await csrf_from(client, "/login")
    cookies = dict(client.cookies)
    ids = {
        "member_id": target.id,
        "group_id": group.id,
        "membership_id": membership.id,
        "branch_id": branch.id,
        "agreement_id": agreement.id,
        "applicant_id": applicant.id,
    }

    def concrete(path: str, **override: object) -> str:
        values = {**ids, **override}
        return PARAM.sub(lambda m: str(values.get(m.group(1), 1)), path)

    async def send(method: str, url: str, **kwargs):
        client.cookies.clear()
        client.cookies.update(cookies)
        return await client.request(method, url, **kwargs)

    table = expected()
    forms: dict[str, set[str]] = {}
    mounts = {route.path for route in app.routes if isinstance(route, Mount)}
    for method, path in sorted(table):
        if method != "GET" or path in mounts:
            continue
        page = await send("GET", concrete(path))
        assert page.status_code < 500, f"GET {path}: {page.status_code}"
        finder = FormFinder()
        finder.feed(page.text)
        for action, fields in finder.forms:
            action = action.split("?")[0] or concrete(path)
            forms.setdefault(action, set()).update(fields)
    for method, path in table:
        if method == "POST":
            forms.setdefault(concrete(path), set())
    assert len(forms) >= 20, sorted(forms)  # the crawl found the app's forms

    problems: list[str] = []
    ending = {concrete(path) for method, path in session_enders()}
    for action, fields in sorted(forms.items(), key=lambda kv: (kv[0] in ending, kv[0])):
        for variant, value in VARIANTS.items():
            data: dict[str, object] = {"csrf_token": token}
            if value is not None:
                # Each field twice, the bad value last: a form's ``get`` reads the last one.
                data.update({name: ["second", value] for name in fields})
            before = await table_counts(db)
            response = await send("POST", action, data=data)
            after = await table_counts(db)
            label = f"POST {action} ({variant})"
            if response.status_code >= 500:
                problems.append(f"{label}: {response.status_code}")
            elif response.status_code >= 400 and after != before:
                problems.append(f"{label}: refused ({response.status_code}) but rows changed")
            if SCRIPT in response.text:
                problems.append(f"{label}: hostile input echoed unescaped")

    # Unknown or malformed ids, wrong methods, and bodies that are not forms.
    for method, path in sorted(table):
        if "{" in path:
            for bad in ("999999999", "9999999999", "99999999999999999999", "abc", "-3"):
                url = PARAM.sub(bad, path)
                response = await send(method, url, data={"csrf_token": token})
                if response.status_code >= 500:
                    problems.append(f"{method} {url}: {response.status_code}")
        if path not in mounts:
            url = concrete(path)
            for wrong in ("PUT", "DELETE", "PATCH"):
                response = await send(wrong, url, headers={"X-CSRF-Token": token})
                # 405 normally; 403 where CSRF refuses first (session-less card paths).
                if not 400 <= response.status_code < 500:
                    problems.append(f"{wrong} {url}: {response.status_code}, not a 4xx")
            # Python's json takes NaN, and gives up on deep nesting with a RecursionError.
            bodies = (b'{"name": "json is not a form"}', b'{"n": NaN}', b"[" * 5000 + b"]" * 5000)
            for body in bodies if method == "POST" else ():
                response = await send(
                    "POST",
                    url,
                    content=body,
                    headers={"X-CSRF-Token": token, "Content-Type": "application/json"},
                )
                if response.status_code >= 500:
                    problems.append(f"POST {url} (JSON body {body[:12]!r}): {response.status_code}")
    assert not problems, "\n".join(problems)
