"""Timed measurements for ``manage.py bench``: auth-card batch HTML and nightly expiry.

Both run in-process against an already seeded SQLite register (members plus
``bench_seed.seed_authorizations``): the batch page goes through the real app and its
middleware (httpx over ASGI, logged in as a superuser); the expiry runs the nightly job's
function in one transaction, as ``manage.py nightly`` does.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import func, select
from starlette.datastructures import Secret

from server.auth.passwords import hash_password
from server.config import Settings
from server.db.engine import make_engine, make_sessionmaker
from server.members.models import Member
from server.plugins.activities.expiry import expire_authorizations
from server.plugins.activities.models import APPROVED, Authorization

BENCH_EMAIL = "bench-office@bench.example.org"


@dataclass(frozen=True)
class Timing:
    label: str
    count: int
    seconds: float
    target: float

    def line(self) -> str:
        verdict = "ok" if self.seconds <= self.target else "OVER TARGET"
        return (
            f"{self.label}: {self.count:,} in {self.seconds:.2f} s "
            f"(target <= {self.target:g} s, {verdict})"
        )


async def _superuser(url: str, password: str) -> None:
    engine = make_engine(url)
    async with make_sessionmaker(engine)() as db:
        db.add(
            Member(
                email=BENCH_EMAIL,
                email_key=BENCH_EMAIL,
                sca_name="Bench Office",
                password_hash=hash_password(password),
                is_superuser=True,
                is_staff=True,
                status="active",
            )
        )
        await db.commit()
    await engine.dispose()


async def batch_auth_cards(url: str, member_ids: list[int]) -> Timing:
    """GET /auth-cards?ids=… for these members through the app, timed (after one warm-up)."""
    from server.app import create_app

    password = secrets.token_urlsafe(12)
    await _superuser(url, password)
    settings = Settings(
        data_dir=Path(tempfile.mkdtemp(prefix="tessera-bench-")),
        database_url=url,
        secret_key=Secret(secrets.token_urlsafe(32)),
        base_url="http://bench",
        smtp_url=None,
        mail_from="bench@example.org",
        run_background_jobs=False,
    )
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 1))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            page = await client.get("/login")
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            assert token, "no CSRF token on /login"
            await client.post(
                "/login",
                data={"email": BENCH_EMAIL, "password": password, "csrf_token": token.group(1)},
            )
            path = "/auth-cards?ids=" + ",".join(str(i) for i in member_ids)
            await client.get(path)  # warm-up: templates compiled, caches filled
            started = time.perf_counter()
            response = await client.get(path)
            seconds = time.perf_counter() - started
            cards = response.text.count('class="panel front"')
            if response.status_code != 200 or cards != len(member_ids):
                raise RuntimeError(f"batch page: HTTP {response.status_code}, {cards} cards")
    finally:
        await app.state.engine.dispose()
    return Timing("auth card batch HTML", cards, seconds, 3.0)


async def nightly_expiry(url: str, today: dt.date) -> tuple[Timing, int]:
    """Run the expiry job over the whole register in one transaction; (timing, rows in table)."""
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine)() as db:
            total = await db.scalar(select(func.count()).select_from(Authorization)) or 0
            due = await db.scalar(
                select(func.count())
                .select_from(Authorization)
                .where(Authorization.status == APPROVED, Authorization.expires_on < today)
            )
            await db.rollback()
            started = time.perf_counter()
            summary = await expire_authorizations(db, today)
            await db.commit()
            seconds = time.perf_counter() - started
    finally:
        await engine.dispose()
    if summary != f"{due} authorizations expired":
        raise RuntimeError(f"expiry: expected {due}, job said {summary!r}")
    return Timing(f"nightly expiry ({due:,} due)", total, seconds, 20.0), total
