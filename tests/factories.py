"""Making members, groups and logged-in clients for tests."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import re
from typing import Any

import httpx
from argon2 import PasswordHasher
from sqlalchemy.ext.asyncio import AsyncSession

from server.groups.models import Group, GroupMembership
from server.members.models import Branch, Member
from server.members.status import refresh_status

PASSWORD = "correct horse battery"
_counter = itertools.count(1)
# ``PASSWORD`` hashed with argon2's smallest parameters, every member's password hash
# unless a test gives another: a login verifies it in microseconds instead of a fifth of
# a second of CPU (verifying reads the parameters from the hash), and the suite logs in
# hundreds of times about other things. The login path is the real one; the hashing's
# own cost is held by test_security_attacks::test_5, whose known member has a hash at
# the real parameters (``hash_password``).
QUICK_HASH = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)


async def make_branch(db: AsyncSession, name: str = "Shire of Testing", **kw: Any) -> Branch:
    branch = Branch(name=name, **kw)
    db.add(branch)
    await db.flush()
    return branch


async def make_member(db: AsyncSession, **kw: Any) -> Member:
    """A member whose status follows the table from the given facts (adult, active by default)."""
    n = next(_counter)
    today = dt.date.today()
    kw.setdefault("email", f"member{n}@example.org")
    kw.setdefault("sca_name", f"Member {n}")
    kw.setdefault("first_name", "Test")
    kw.setdefault("last_name", f"Person{n}")
    kw.setdefault("birth_month", 1)
    kw.setdefault("birth_year", today.year - 30)
    kw.setdefault("password_hash", QUICK_HASH)
    member = Member(email_key=kw["email"].lower(), **kw)
    refresh_status(member, today)
    db.add(member)
    await db.flush()
    return member


async def make_group(
    db: AsyncSession,
    name: str | None = None,
    permissions: list[str] | None = None,
    chair_permissions: list[str] | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
) -> Group:
    group = Group(
        name=name or f"Group {next(_counter)}",
        since=since or dt.date(2000, 1, 1),
        until=until,
        permissions=permissions or [],
        chair_permissions=chair_permissions or [],
    )
    db.add(group)
    await db.flush()
    return group


async def make_staff(db: AsyncSession, permissions: list[str], **kw: Any) -> Member:
    """A verified adult with a current membership in a group granting ``permissions``."""
    kw.setdefault("membership_number", f"M{next(_counter):06d}")
    kw.setdefault("membership_expires_on", dt.date.today() + dt.timedelta(days=365))
    kw.setdefault("verified_at", dt.datetime.now(dt.UTC))
    member = await make_member(db, is_staff=True, **kw)
    group = await make_group(db, permissions=permissions)
    db.add(GroupMembership(group_id=group.id, member_id=member.id, since=dt.date(2000, 1, 1)))
    await db.flush()
    return member


CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


async def csrf_from(client: httpx.AsyncClient, path: str) -> str:
    response = await client.get(path)
    match = CSRF_RE.search(response.text)
    assert match, f"no CSRF token on {path} ({response.status_code})"
    return match.group(1)


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    token = await csrf_from(client, "/login")
    return await client.post(
        "/login", data={"email": email, "password": password, "csrf_token": token}
    )


async def post_form(
    client: httpx.AsyncClient, path: str, data: dict[str, Any], *, form_page: str | None = None
) -> httpx.Response:
    """POST with the CSRF token taken from ``form_page`` (default: /login, always there)."""
    token = await csrf_from(client, form_page or "/login")
    return await client.post(path, data={**data, "csrf_token": token})


def clients_from(app: Any, network: str, count: int) -> list[httpx.AsyncClient]:
    """``count`` browsers on addresses of their own (``network`` + 1 … count), as a
    guesser spread over many addresses: the per-address limits do not join them up."""
    return [
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=(f"{network}{n}", 40000)),
            base_url="http://testserver",
        )
        for n in range(1, count + 1)
    ]


async def guess_at_once(guessers: list[httpx.AsyncClient], email: str) -> list[httpx.Response]:
    """Each of ``guessers`` posts a wrong password (its own) for ``email``, all at once."""
    tokens = [await csrf_from(c, "/login") for c in guessers]
    return list(
        await asyncio.gather(
            *(
                c.post("/login", data={"email": email, "password": f"guess {n}", "csrf_token": t})
                for n, (c, t) in enumerate(zip(guessers, tokens, strict=True))
            )
        )
    )


SEEN_RE = re.compile(r'name="seen" value="([^"]+)"')


async def two_admins_on(
    app: Any, client: httpx.AsyncClient, emails: tuple[str, str], path: str
) -> tuple[httpx.AsyncClient, dict[str, str], dict[str, str]]:
    """Two admins (``client`` and a second browser) logged in with the edit page at
    ``path`` open: (the second browser, each page's CSRF token and ``seen`` digest)."""
    [other] = clients_from(app, "192.0.2.", 1)
    forms = []
    for browser, email in zip((client, other), emails, strict=True):
        await login(browser, email)
        page = (await browser.get(path)).text
        token, seen = CSRF_RE.search(page), SEEN_RE.search(page)
        assert token and seen, f"no CSRF token or seen digest on {path}"
        forms.append({"csrf_token": token.group(1), "seen": seen.group(1)})
    return other, forms[0], forms[1]
