"""A unique key another request took at the same moment answers 409 ("nothing was saved"),
on both databases, not 500; other integrity errors stay 500 (they are bugs)."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.exc import IntegrityError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server.db.unique import is_unique_violation
from server.members.models import Member
from server.web.errors import exception_handlers
from tests.factories import make_member


async def test_a_taken_unique_key_is_a_duplicate_and_a_missing_value_is_not(db):
    await make_member(db, email="taken@example.org")
    await db.commit()
    db.add(Member(email="TAKEN@example.org", email_key="taken@example.org", sca_name="Twin"))
    with pytest.raises(IntegrityError) as taken:
        await db.flush()
    await db.rollback()
    assert is_unique_violation(taken.value)
    db.add(Member(email=None, email_key="nobody@example.org", sca_name="No email"))
    with pytest.raises(IntegrityError) as missing:
        await db.flush()
    await db.rollback()
    assert not is_unique_violation(missing.value)


async def test_a_request_that_loses_the_race_answers_409_and_saves_nothing(app, db, log_lines):
    """A stand-in for any check-then-insert route two requests took at once: the second
    insert fails on the unique index."""
    await make_member(db, email="first@example.org")
    await db.commit()

    async def create_twin(request: Request) -> Response:
        async with app.state.sessionmaker() as session:
            session.add(Member(email="x", email_key="first@example.org", sca_name="Twin"))
            await session.commit()
        return Response("created")

    racing = Starlette(
        routes=[Route("/twin", create_twin, methods=["POST"])],
        exception_handlers=exception_handlers,
    )
    transport = httpx.ASGITransport(app=racing, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        answer = await client.post("/twin", headers={"Accept": "application/json"})
    assert answer.status_code == 409, answer.text
    assert "Nothing was saved" in answer.json()["error"]
    assert "unique constraint: POST /twin answered 409" in log_lines.getvalue()
