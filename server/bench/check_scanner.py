"""The live check as the marshals' scanner calls it: a logged-in marshal's session
cookie and ``Accept: application/json`` (``static/scan/scanner.js``, ``liveCheck``),
for the code a member's mobile card carries. The marshal sees more than an anonymous
visitor: status, expiry, photo and the plugin sections."""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3

from server.bench import check
from server.bench.browser import session_cookie
from server.bench.officer import create_officer
from server.bench.registry import Scenario, scenario, seeder

_url: list[str] = []


@seeder
def _remember_database(conn: sqlite3.Connection, member_ids: range, today: dt.date) -> str:
    path = conn.execute("PRAGMA database_list").fetchone()[2]
    _url[:] = [f"sqlite+aiosqlite:///{path}"]
    return "scanner checks: a marshal logs in once the server runs"


def _marshal_session(base_url: str) -> dict[str, str]:
    officer = asyncio.run(create_officer(_url[0]))
    cookie = asyncio.run(session_cookie(base_url, officer.email, officer.password))
    return {"Cookie": cookie, "Accept": "application/json"}


scenario(
    Scenario(
        "check scanner",
        "check (scanner, JSON)",
        42,
        check.mobile_request,
        session=_marshal_session,
    )
)
