from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select, update

from server.auth.models import PasswordResetToken
from server.mail.models import OutboxMessage
from server.mail.sealed import unseal
from tests.factories import clients_from, csrf_from, login, make_member

SECRET = "test-secret-key-" + "x" * 32


async def _ask(client, email):
    token = await csrf_from(client, "/password-reset")
    return await client.post("/password-reset", data={"csrf_token": token, "email": email})


async def _link(db) -> str:
    body = (await db.execute(select(OutboxMessage.body_text))).scalar_one()
    await db.commit()
    assert "/password-reset/" not in body  # sealed: the outbox holds no usable token
    return re.search(r"http://testserver(/password-reset/\S+)", unseal(body, SECRET)).group(1)


async def test_same_answer_whether_or_not_the_email_exists(client, db):
    await make_member(db, email="known@example.org")
    await db.commit()
    known = await _ask(client, "Known@Example.org")
    unknown = await _ask(client, "nobody@example.org")
    assert known.status_code == unknown.status_code == 200
    assert known.text.replace("Known@Example.org", "X") == unknown.text.replace(
        "nobody@example.org", "X"
    )
    rows = (await db.execute(select(OutboxMessage.to_addr))).scalars().all()
    assert rows == ["known@example.org"]


async def test_link_works_once_and_is_stored_hashed(client, db):
    member = await make_member(db, email="once@example.org")
    await db.commit()
    await _ask(client, member.email)
    path = await _link(db)
    token = path.rsplit("/", 1)[1]
    hashes = (await db.execute(select(PasswordResetToken.token_hash))).scalars().all()
    await db.commit()
    assert token not in hashes and len(hashes) == 1
    form = await client.get(path)
    assert form.status_code == 200 and form.headers["referrer-policy"] == "no-referrer"
    csrf = await csrf_from(client, path)
    data = {
        "csrf_token": csrf,
        "password": "brand new secret",
        "password_again": "brand new secret",
    }
    assert (await client.post(path, data=data)).status_code == 303
    again = await client.post(path, data=data)
    assert again.status_code == 400 and "no longer works" in again.text
    assert (await login(client, member.email, "brand new secret")).status_code == 303


async def test_link_expires_after_24_hours(client, db):
    member = await make_member(db, email="late@example.org")
    await db.commit()
    await _ask(client, member.email)
    path = await _link(db)
    row = (await db.execute(select(PasswordResetToken))).scalar_one()
    lifetime = row.expires_at - row.created_at
    assert abs(lifetime - dt.timedelta(hours=24)) < dt.timedelta(seconds=5)
    await db.execute(
        update(PasswordResetToken).values(
            expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
        )
    )
    await db.commit()
    response = await client.get(path)
    assert response.status_code == 400 and "no longer works" in response.text


async def test_reset_requests_sent_at_the_same_moment_still_stop_at_three(app, db):
    """Someone flooding a member's inbox from many addresses at once: the per-account
    limit of three links an hour holds (before, every simultaneous request got one)."""
    import asyncio

    member = await make_member(db, email="flooded@example.org")
    await db.commit()
    senders = clients_from(app, "203.0.113.", 6)
    tokens = [await csrf_from(c, "/password-reset") for c in senders]
    answers = await asyncio.gather(
        *(
            c.post("/password-reset", data={"csrf_token": token, "email": member.email})
            for c, token in zip(senders, tokens, strict=True)
        )
    )
    assert [r.status_code for r in answers] == [200] * 6
    links = (await db.execute(select(OutboxMessage.id))).scalars().all()
    assert len(links) == 3
    for c in senders:
        await c.aclose()
