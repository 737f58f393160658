from __future__ import annotations

import datetime as dt
import io
import re

from PIL import Image
from sqlalchemy import select

from server.cards import card_routes
from server.cards.models import CardLink
from server.cards.service import revoke_link
from server.members.models import Member
from server.plugins import registry as plugin_registry
from server.plugins.contract import Plugin, Row, Section
from server.settings.store import get_setting, set_setting
from tests import card_fixtures
from tests.card_fixtures import issued_token
from tests.factories import make_branch, make_member

_reset_card_limiter = card_fixtures.reset_card_limiter


def assert_card_headers(response):
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert "set-cookie" not in response.headers


async def test_card_json_has_etag_and_answers_304(client, db, settings):
    branch = await make_branch(db, "Barony of the Test")
    member = await make_member(
        db,
        sca_name="Aelfric of Test",
        branch_id=branch.id,
        membership_number="12345",
        membership_expires_on=dt.date(2031, 1, 31),
        verified_at=dt.datetime.now(dt.UTC),
    )
    token = await issued_token(db, settings, member)

    response = await client.get(f"/card/{token}.json")
    assert response.status_code == 200
    assert_card_headers(response)
    assert response.headers["x-tessera-card"] == "card"
    data = response.json()
    assert data["member"]["sca_name"] == "Aelfric of Test"
    assert data["member"]["branch"] == "Barony of the Test"
    assert data["membership"] == {
        "number": "12345",
        "expires_on": "2031-01-31",
        "expired": False,
        "text": "Valid until 2031-01-31",
        "tone": "ok",
    }
    assert data["headline"]["text"] == "Current member"
    etag = response.headers["etag"]

    again = await client.get(f"/card/{token}.json", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    assert_card_headers(again)


async def test_card_changes_when_the_member_changes(client, db, settings):
    member = await make_member(db, sca_name="Before")
    token = await issued_token(db, settings, member)
    first = await client.get(f"/card/{token}.json")
    member = await db.get(Member, member.id)
    member.sca_name = "After"
    await db.commit()
    second = await client.get(
        f"/card/{token}.json", headers={"If-None-Match": first.headers["etag"]}
    )
    assert second.status_code == 200
    assert second.json()["member"]["sca_name"] == "After"


async def test_card_page_shows_every_state_in_words(client, db, settings):
    expired = await make_member(
        db,
        sca_name="Expired Person",
        membership_number="9",
        membership_expires_on=dt.date(2020, 5, 1),
        verified_at=dt.datetime.now(dt.UTC),
    )
    deactivated = await make_member(db, sca_name="Gone Person")
    token_expired = await issued_token(db, settings, expired)
    token_gone = await issued_token(db, settings, deactivated)
    deactivated = await db.get(Member, deactivated.id)
    deactivated.deactivated_at = dt.datetime.now(dt.UTC)
    deactivated.status = "deactivated"
    await db.commit()
    today = dt.date.today()
    minor = await make_member(db, sca_name="Young Person", birth_year=today.year - 12)
    token_minor = await issued_token(db, settings, minor)

    page = await client.get(f"/card/{token_expired}")
    assert page.status_code == 200
    assert_card_headers(page)
    # Dates are kept whole on narrow phones: <span class="date">.
    assert (
        'Expired on <span class="date">2020-05-01</span>' in page.text
        and "Membership expired" in page.text
    )
    assert (
        'rel="manifest"' in page.text and f"/card/{token_expired}/manifest.webmanifest" in page.text
    )
    assert "apple-touch-icon" in page.text

    page = await client.get(f"/card/{token_gone}")
    assert "Deactivated" in page.text and "Not a member in good standing." in page.text

    page = await client.get(f"/card/{token_minor}")
    assert "Unverified minor" in page.text and "No membership on record" in page.text


async def test_manifest_per_card(client, db, settings):
    await set_setting(db, "card_color", "#123456", None)
    member = await make_member(db, sca_name="Brigit Weaver")
    token = await issued_token(db, settings, member)
    response = await client.get(f"/card/{token}/manifest.webmanifest")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/manifest+json")
    manifest = response.json()
    assert manifest["start_url"] == f"/card/{token}"
    assert manifest["display"] == "standalone"
    assert manifest["theme_color"] == "#123456"
    assert "Brigit Weaver" in manifest["name"]
    assert {i["sizes"] for i in manifest["icons"]} == {"192x192", "512x512"}
    assert any(i["purpose"] == "maskable" for i in manifest["icons"])


async def test_unknown_and_revoked_links(client, db, settings):
    member = await make_member(db)
    token = await issued_token(db, settings, member)
    await revoke_link(db, member, None, "lost phone", dt.date.today())
    await db.commit()

    gone = await client.get(f"/card/{token}")
    assert gone.status_code == 410
    assert "replaced or revoked" in gone.text
    assert_card_headers(gone)
    gone_json = await client.get(f"/card/{token}.json")
    assert gone_json.status_code == 410 and gone_json.json()["error"] == "revoked"
    # The card app drops its saved copy only on these, this server's own "gone" answers.
    assert gone.headers["x-tessera-card"] == gone_json.headers["x-tessera-card"] == "revoked"

    unknown = await client.get("/card/AAAAAAAAAAAAAAAAAAAAAA")
    assert unknown.status_code == 404 and "no card at this address" in unknown.text
    assert unknown.headers["x-tessera-card"] == "unknown"
    assert (await client.get("/card/not-a-token.json")).status_code == 404


async def test_repeated_unknown_tokens_get_429_with_retry_after_valid_ones_do_not(
    client, db, settings
):
    member = await make_member(db)
    token = await issued_token(db, settings, member)
    for n in range(card_routes.unknown_limiter.limit):
        response = await client.get(f"/card/{n:022d}.json")
        assert response.status_code == 404
    blocked = await client.get(f"/card/{'9' * 22}.json")
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) > 0
    assert blocked.headers["x-tessera-card"] == "rate_limited"  # not "gone": the card stays
    # Only failures are limited: the address's valid card is still answered.
    assert (await client.get(f"/card/{token}.json")).status_code == 200


async def test_deleted_member_card_is_gone(client, db, settings):
    member = await make_member(db)
    token = await issued_token(db, settings, member)
    member = await db.get(Member, member.id)
    member.deleted_at = dt.datetime.now(dt.UTC)
    member.email_key = None
    await db.commit()
    assert (await client.get(f"/card/{token}.json")).status_code == 410


async def test_last_used_is_recorded_without_a_write_per_request(app, client, db, settings):
    member = await make_member(db)
    token = await issued_token(db, settings, member)
    for _ in range(3):
        assert (await client.get(f"/card/{token}.json")).status_code == 200
    written = await app.state.cards.usage.flush(app.state.engine)
    assert written == 1
    db.expire_all()
    link = (await db.execute(select(CardLink))).scalar_one()
    assert link.last_used_at is not None


async def test_plugin_sections_appear_on_the_card(client, db, settings):
    async def sections(db, member, context, today):
        return [
            Section(
                "auths",
                "Authorizations",
                10,
                (Row("Rapier", note="expires 2027-05-01", group="Combat"),),
            )
        ]

    plugin_registry.install(Plugin(key="cardtest", name="Card test", sections=sections))
    try:
        enabled = list(await get_setting(db, "enabled_plugins"))
        await set_setting(db, "enabled_plugins", [*enabled, "cardtest"], None)
        member = await make_member(db)
        token = await issued_token(db, settings, member)
        data = (await client.get(f"/card/{token}.json")).json()
        assert data["sections"][0]["title"] == "Authorizations"
        assert data["sections"][0]["rows"][0]["label"] == "Rapier"
        page = await client.get(f"/card/{token}")
        assert "Authorizations" in page.text and (
            'expires <span class="date">2027-05-01</span>' in page.text
        )
    finally:
        plugin_registry.uninstall("cardtest")


async def test_service_worker_icons_and_size_budget(client, db, settings):
    sw = await client.get("/sw.js")
    assert sw.status_code == 200
    assert sw.headers["cache-control"] == "no-cache"
    assert "javascript" in sw.headers["content-type"]
    assert "set-cookie" not in sw.headers
    for name, size in [
        ("icon-192.png", 192),
        ("icon-512.png", 512),
        ("maskable-512.png", 512),
        ("apple-touch-icon.png", 180),
    ]:
        icon = await client.get(f"/pwa/icons/{name}")
        assert icon.status_code == 200
        assert Image.open(io.BytesIO(icon.content)).size == (size, size)
    member = await make_member(db)
    token = await issued_token(db, settings, member)
    page = await client.get(f"/card/{token}")
    # Everything the page loads is saved by the worker when it installs, by exact URL.
    loaded = set(re.findall(r'(?:src|href)="(/pwa/[^"]+)"', page.text))
    assert {"/pwa/card.js?v=6", "/pwa/vendor/qrcode-generator/qrcode.js"} <= loaded
    assert loaded <= set(re.findall(r'"(/pwa/[^"]+)"', sw.text))
    total = len(page.content)
    for asset in ("/pwa/card.css?v=7", "/pwa/card.js?v=6"):
        total += len((await client.get(asset)).content)
    assert total < 60 * 1024
    # The QR encoder (vendored as published, 56 KB) is fetched once and kept by the worker.
    encoder = await client.get("/pwa/vendor/qrcode-generator/qrcode.js")
    assert encoder.status_code == 200 and "javascript" in encoder.headers["content-type"]
    assert total + len(encoder.content) < 128 * 1024
