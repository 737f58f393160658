"""The marshal QR and the photo in the mobile card payload."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from server.authcards.qr import fill_qr_slot
from server.cards import builder
from server.cards.models import CardPayload
from server.checks import codes, runtime
from server.checks.authcard_part import printed_check_qr
from server.checks.revocations import revoke_codes
from server.photos.images import process
from server.photos.store import save_photo
from server.settings.store import set_setting
from tests.check_fixtures import decode_qr, make_verified
from tests.factories import login
from tests.test_photos import jpeg_bytes


async def _verified(db):
    return await make_verified(db, sca_name="Brigid")


async def test_card_payload_has_a_live_check_code_renewed_after_revocation(
    app, client, db, settings
):
    member = await _verified(db)
    member_id = member.id
    built = await builder.refresh(db, member_id, settings)
    body, etag, valid_until = built.body, built.etag, built.valid_until
    check = json.loads(body)["check"]
    url = check["url"]
    assert url.startswith("http://testserver/check/")
    assert "Code valid until" in check["caption"]
    assert url in body  # the stored payload carries the same code: same day, same code
    stored = await db.scalar(
        select(CardPayload.check_code).where(CardPayload.member_id == member_id)
    )
    assert url.endswith(f"/check/{stored}")  # what the live check trusts without signing
    code = codes.read(urlsplit(url).path.rsplit("/", 1)[1], runtime.keyring(app))
    assert code.valid_until - code.issued_at == codes.MOBILE_VALIDITY
    assert check["valid_until"] == code.valid_until.isoformat()
    # Issued at the start of the UTC day, and the payload lasts until that day ends.
    start_of_day = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    assert code.issued_at == start_of_day
    assert valid_until <= int((start_of_day + dt.timedelta(days=1)).timestamp())
    page = await client.get(urlsplit(url).path)
    assert 'data-result="ok"' in page.text and "Brigid" in page.text

    member = await db.get(type(member), member_id)
    await revoke_codes(db, member, None, "Lost phone")
    await db.commit()
    row = (
        await db.execute(select(CardPayload).where(CardPayload.member_id == member_id))
    ).scalar_one()
    assert row.body is None  # the revocation invalidated the stored card
    await db.rollback()
    rebuilt = await builder.refresh(db, member_id, settings)
    assert rebuilt.etag != etag
    new_url = json.loads(rebuilt.body)["check"]["url"]
    assert new_url != url
    assert 'data-result="revoked"' in (await client.get(urlsplit(url).path)).text
    assert 'data-result="ok"' in (await client.get(urlsplit(new_url).path)).text


async def test_card_payload_carries_the_photo_and_changes_with_it(app, db, settings):
    member = await _verified(db)
    member_id = member.id
    built = await builder.refresh(db, member_id, settings)
    assert json.loads(built.body)["photo"] is None
    await save_photo(db, member_id, process(jpeg_bytes()), None)
    await db.commit()
    rebuilt = await builder.refresh(db, member_id, settings)
    assert rebuilt.etag != built.etag
    first = json.loads(rebuilt.body)["photo"]
    assert first.startswith("data:image/jpeg;base64,")
    await save_photo(db, member_id, process(jpeg_bytes(size=(900, 1200))), None)
    await db.commit()
    replaced = json.loads((await builder.refresh(db, member_id, settings)).body)["photo"]
    assert replaced.startswith("data:image/jpeg;base64,") and replaced != first  # the newest


async def test_building_a_card_draws_no_qr_code(app, db, settings):
    """The payload carries the check URL for the card app to draw; no image is made or
    stored on the server (it was 7 ms of CPU and most of the stored body per rebuild)."""
    member = await _verified(db)
    body = (await builder.refresh(db, member.id, settings)).body
    data = json.loads(body)
    assert set(data["check"]) == {"url", "valid_until", "caption"}
    assert "data:" not in body and "svg" not in body.lower()
    assert len(body.encode()) < 1500  # an inline SVG of the code alone was over 5 KB


async def _auth_card_code(app, client, browser, member, shot: Path) -> tuple[str, codes.CheckCode]:
    """The check link the member's printed auth card carries, read from its QR."""
    html = (await client.get(f"/members/{member.id}/auth-card")).text
    start = html.index('<div class="qr-slot"')
    slot = html[start : html.index("</div>", start) + 6]
    assert "<svg" in slot
    page = await browser.new_page()
    await page.set_content(f'<div style="width:240px;height:240px">{slot}</div>')
    await page.add_style_tag(content=".qr-slot, .qr-slot svg { width: 240px; height: 240px; }")
    decoded = decode_qr(await page.locator(".qr-slot").screenshot(path=str(shot)))
    assert len(decoded) == 1
    url = decoded[0]
    assert url.startswith("http://testserver/check/")
    return url, codes.read(url.rsplit("/", 1)[1], runtime.keyring(app))


@pytest.mark.browser
async def test_auth_card_qr_decodes_to_a_code_valid_until_membership_expiry(
    sqlite_only, app, client, db, browser, artifacts
):
    fill_qr_slot(printed_check_qr)  # the production provider (other tests swap their own in)
    expires = dt.date.today() + dt.timedelta(days=150)
    member = await make_verified(db, sca_name="Brigid", membership_expires_on=expires)
    await login(client, member.email)
    url, code = await _auth_card_code(app, client, browser, member, artifacts / "auth-card-qr.png")
    assert code.public_id == member.public_id
    assert code.valid_until == dt.datetime.combine(expires, dt.time(23, 59, 59), dt.UTC)
    assert 'data-result="ok"' in (await client.get(urlsplit(url).path)).text


@pytest.mark.browser
async def test_the_printed_code_lasts_the_membership_s_last_day_where_the_organisation_is(
    sqlite_only, app, client, db, browser, tmp_path
):
    """One clock: in Los Angeles a membership that expires on a date is current until that
    date's local midnight, so the printed card's code lives that long too (not until
    midnight UTC, eight hours earlier, when the check would answer CODE EXPIRED to a
    current member)."""
    fill_qr_slot(printed_check_qr)
    await set_setting(db, "time_zone", "America/Los_Angeles", None)
    expires = dt.date.today() + dt.timedelta(days=150)
    member = await make_verified(db, sca_name="Brigid", membership_expires_on=expires)
    await db.commit()
    await login(client, member.email)
    _url, code = await _auth_card_code(app, client, browser, member, tmp_path / "qr.png")
    local_midnight = dt.datetime.combine(
        expires + dt.timedelta(days=1), dt.time(), ZoneInfo("America/Los_Angeles")
    )
    assert code.valid_until == local_midnight.astimezone(dt.UTC) - dt.timedelta(seconds=1)
