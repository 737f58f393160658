"""Helpers for check tests: codes for members, a marshal's client, a test plugin section."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import sqlite3
from collections.abc import AsyncIterator, Iterator

import pytest
import zxingcpp
from PIL import Image
from sqlalchemy import text
from starlette.applications import Starlette

from server.checks import codes, runtime
from server.db.target import DatabaseTarget
from server.members.models import Member
from server.plugins import registry
from server.plugins.contract import Plugin, Row, Section, SectionContext


async def log_in_to_scanner(page, base: str, email: str) -> None:
    """Log in through the form in a Playwright page and land on the card scanner."""
    from tests.factories import PASSWORD

    await page.goto(f"{base}/login?next=/check/scan/")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_url(f"{base}/check/scan/")


async def make_verified(db, **kw) -> Member:
    """An adult with a verified, current membership (their check says OK)."""
    from tests.factories import make_member

    kw.setdefault("membership_number", "M77")
    kw.setdefault("membership_expires_on", dt.date.today() + dt.timedelta(days=200))
    kw.setdefault("verified_at", dt.datetime.now(dt.UTC))
    member = await make_member(db, **kw)
    await db.commit()
    return member


@contextlib.asynccontextmanager
async def check_log_held(app: Starlette) -> AsyncIterator[None]:
    """Another writer holds the check log meanwhile: a long admin job on SQLite (the
    write lock), a table lock on PostgreSQL."""
    path = DatabaseTarget.parse(app.state.settings.database_url).sqlite_path
    if path:
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        return
    async with app.state.engine.connect() as conn:
        await conn.execute(text("LOCK TABLE check_log IN EXCLUSIVE MODE"))
        try:
            yield
        finally:
            await conn.rollback()


def code_for(app: Starlette, member: Member, now: dt.datetime | None = None) -> str:
    return codes.mobile_code(runtime.keyring(app), member.public_id, now or dt.datetime.now(dt.UTC))


async def _sections(db, member, context, today):
    if context != SectionContext.CHECK_PAGE:
        return []
    return [
        Section(
            "checktest",
            "Authorizations",
            10,
            (Row("Rapier", "authorized", "expires 2027-05-01", "Fencing", "ok"),),
        )
    ]


@pytest.fixture
def check_plugin() -> Iterator[Plugin]:
    """A plugin whose check-page section marshals must see (enable it per test)."""
    plugin = Plugin(key="checktest", name="Check test", sections=_sections)
    registry.install(plugin)
    yield plugin
    registry.uninstall("checktest")


def decode_qr(png: bytes) -> list[str]:
    """The texts of the QR codes in a screenshot. Only QR codes are looked for: read
    for every format, a QR's modules once also decoded as a short 1-D barcode."""
    found = zxingcpp.read_barcodes(
        Image.open(io.BytesIO(png)), formats=zxingcpp.BarcodeFormat.QRCode
    )
    return [d.text for d in found]
