"""The web service refuses what no phone sends — junk bodies, odd ids and tags, other
pass types, floods of wrong tokens — with a 4xx, never a 500, and changes nothing."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import func, select

from server.config import Settings
from server.wallet import apple_routes
from server.wallet.models import WalletDevice
from tests.card_fixtures import issued_token, reset_card_limiter  # noqa: F401
from tests.check_fixtures import make_verified
from tests.wallet_fixtures import PASS_TYPE_ID, make_credentials, with_wallet

SERVICE = "/wallet/apple/v1"


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    return with_wallet(settings, make_credentials(tmp_path / "wallet").apple_env())


@pytest.fixture(autouse=True)
def _fresh_limits():
    apple_routes.failures.reset()
    apple_routes.device_logs.reset()
    yield
    apple_routes.failures.reset()
    apple_routes.device_logs.reset()


async def test_junk_gets_a_4xx_and_changes_nothing(app, client, db, settings):
    member = await make_verified(db)
    token = await issued_token(db, settings, member)
    added = await client.get(f"/wallet/{token}/apple.pkpass")
    with zipfile.ZipFile(io.BytesIO(added.content)) as archive:
        body = json.loads(archive.read("pass.json"))
    serial, auth = (
        body["serialNumber"],
        {"Authorization": f"ApplePass {body['authenticationToken']}"},
    )
    registration = f"{SERVICE}/devices/phone1/registrations/{PASS_TYPE_ID}/{serial}"
    deep = b"[" * 5000 + b"]" * 5000  # Python's json gives up with a RecursionError
    junk = (b"", b"[]", b"{", b'{"pushToken": 5}', b'{"pushToken": "../x"}', b"x" * 70_000, deep)
    for content in (*junk, b'{"pushToken": NaN}'):
        response = await client.post(registration, content=content, headers=auth)
        assert response.status_code == 400, content[:20]
    odd_device = f"{SERVICE}/devices/{'d' * 101}/registrations/{PASS_TYPE_ID}/{serial}"
    assert (
        await client.post(odd_device, json={"pushToken": "ab"}, headers=auth)
    ).status_code == 400
    other_type = f"{SERVICE}/devices/phone1/registrations/pass.org.other/{serial}"
    assert (
        await client.post(other_type, json={"pushToken": "ab"}, headers=auth)
    ).status_code == 404
    assert (
        await client.get(f"{SERVICE}/passes/pass.org.other/{serial}", headers=auth)
    ).status_code == 404
    # "²" and "١٢" are digits to str.isdigit, not to int().
    for since in ("abc", "-1", "9" * 40, "", "\u00b2", "\u0661\u0662"):
        listed = await client.get(
            f"{SERVICE}/devices/phone1/registrations/{PASS_TYPE_ID}",
            params={"passesUpdatedSince": since},
        )
        assert listed.status_code == 204  # the device registered nothing
    for log_body in (b"nope", b'{"logs": "one"}', b"[1]", deep):
        assert (await client.post(f"{SERVICE}/log", content=log_body)).status_code == 400
    bad_date = await client.get(
        f"{SERVICE}/passes/{PASS_TYPE_ID}/{serial}",
        headers={**auth, "If-Modified-Since": "yesterday"},
    )
    assert bad_date.status_code == 200
    # An HTTP authentication scheme has no case (RFC 9110 11.1); the token has.
    token = body["authenticationToken"]
    url = f"{SERVICE}/passes/{PASS_TYPE_ID}/{serial}"
    for header, status in ((f"applepass {token}", 200), (f"ApplePass {token.swapcase()}", 401)):
        answer = await client.get(url, headers={"Authorization": header})
        assert answer.status_code == status, header
    await db.commit()
    assert (await db.execute(select(func.count()).select_from(WalletDevice))).scalar_one() == 0


async def test_guessing_tokens_is_refused_but_the_phone_is_answered(app, client, db, settings):
    member = await make_verified(db)
    token = await issued_token(db, settings, member)
    with zipfile.ZipFile(
        io.BytesIO((await client.get(f"/wallet/{token}/apple.pkpass")).content)
    ) as z:
        body = json.loads(z.read("pass.json"))
    url = f"{SERVICE}/passes/{PASS_TYPE_ID}/{body['serialNumber']}"
    for n in range(20):
        guess = await client.get(url, headers={"Authorization": f"ApplePass guess{n:012d}"})
        assert guess.status_code == 401
    assert (
        await client.get(url, headers={"Authorization": "ApplePass guess-once-more"})
    ).status_code == 429
