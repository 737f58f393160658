"""The marshal QR and the photo in the mobile card payload."""

from __future__ import annotations

import datetime as dt
import io
import json
from urllib.parse import urlsplit

import pytest
import zxingcpp
from PIL import Image
from sqlalchemy import select

from server.authcards.qr import fill_qr_slot
from server.cards import builder
from server.cards.models import CardPayload
from server.checks import codes, runtime
from server.checks.authcard_part import printed_check_qr
from server.checks.revocations import revoke_codes
from server.photos.images import process
from server.photos.store import save_photo
from tests.check_fixtures import make_verified
from tests.factories import login
from tests.test_photos import jpeg_bytes


async def _verified(db):
    return await make_verified(db, sca_name="Brigid")


async def _data(db, settings, member_id):
    return json.loads((await builder.refresh(db, member_id, settings)).body)


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
    assert check["qr"].startswith("data:image/svg+xml")
    assert "Code valid until" in check["caption"]
    assert url in body  # the stored payload carries the same code: same hour, same code
    stored = await db.scalar(
        select(CardPayload.check_code).where(CardPayload.member_id == member_id)
    )
    assert url.endswith(f"/check/{stored}")  # what the live check trusts without signing
    assert valid_until <= int(dt.datetime.now(dt.UTC).timestamp()) + 3600
    code = codes.read(urlsplit(url).path.rsplit("/", 1)[1], runtime.keyring(app))
    assert code.valid_until - code.issued_at == codes.MOBILE_VALIDITY
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
    assert '"photo":"data:image/jpeg;base64,' in rebuilt.body


@pytest.mark.browser
async def test_card_qr_drawn_by_chromium_decodes_to_the_check_url(
    sqlite_only, app, db, settings, browser, artifacts
):
    member = await _verified(db)
    check = (await _data(db, settings, member.id))["check"]
    page = await browser.new_page()
    await page.set_content(f'<img id="qr" src="{check["qr"]}" style="width:240px">')
    shot = await page.locator("#qr").screenshot(path=str(artifacts / "check-qr.png"))
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(shot)))
    assert [d.text for d in decoded] == [check["url"]]


@pytest.mark.browser
async def test_auth_card_qr_decodes_to_a_code_valid_until_membership_expiry(
    sqlite_only, app, client, db, browser, artifacts
):
    fill_qr_slot(printed_check_qr)  # the production provider (other tests swap their own in)
    expires = dt.date.today() + dt.timedelta(days=150)
    member = await make_verified(db, sca_name="Brigid", membership_expires_on=expires)
    await login(client, member.email)
    html = (await client.get(f"/members/{member.id}/auth-card")).text
    start = html.index('<div class="qr-slot"')
    slot = html[start : html.index("</div>", start) + 6]
    assert "<svg" in slot
    page = await browser.new_page()
    await page.set_content(f'<div style="width:240px;height:240px">{slot}</div>')
    await page.add_style_tag(content=".qr-slot, .qr-slot svg { width: 240px; height: 240px; }")
    shot = await page.locator(".qr-slot").screenshot(path=str(artifacts / "auth-card-qr.png"))
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(shot)))
    assert len(decoded) == 1
    url = decoded[0].text
    assert url.startswith("http://testserver/check/")
    code = codes.read(url.rsplit("/", 1)[1], runtime.keyring(app))
    assert code.public_id == member.public_id
    assert code.valid_until == dt.datetime.combine(expires, dt.time(23, 59, 59), dt.UTC)
    assert 'data-result="ok"' in (await client.get(urlsplit(url).path)).text
