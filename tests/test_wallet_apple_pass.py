"""The Apple pass a member adds from their card link: a signed archive of the card.

A throwaway CA chain made in the test stands in for Apple's; the signature is checked
with ``openssl smime -verify`` against that root, the way a phone checks it against
Apple's.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import pkcs7

from server.checks import codes
from server.checks.runtime import keyring
from server.config import Settings
from server.plugins import registry
from server.plugins.contract import Plugin, Row, Section, SectionContext
from server.settings.store import set_setting
from tests.card_fixtures import database_contains, issued_token, reset_card_limiter  # noqa: F401
from tests.check_fixtures import make_verified
from tests.wallet_fixtures import PASS_TYPE_ID, TEAM_ID, Credentials, make_credentials, with_wallet

IMAGES = {"icon.png", "icon@2x.png", "icon@3x.png", "logo.png", "logo@2x.png", "logo@3x.png"}


@pytest.fixture
def credentials(tmp_path: Path) -> Credentials:
    return make_credentials(tmp_path / "wallet")


@pytest.fixture
def settings(settings: Settings, credentials: Credentials) -> Settings:
    return with_wallet(settings, credentials.apple_env())


async def _sections(db, member, context, today):
    if context != SectionContext.MOBILE_CARD:
        return []
    row = Row("Rapier", "authorized", "expires 2027-05-01", "Fencing", "ok")
    return [Section("wallettest", "Authorizations", 10, (row,))]


@pytest.fixture
def sections_plugin() -> Iterator[Plugin]:
    plugin = Plugin(key="wallettest", name="Wallet test", sections=_sections)
    registry.install(plugin)
    yield plugin
    registry.uninstall("wallettest")


def unzip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def openssl_verifies(
    folder: Path, files: dict[str, bytes], root: Path
) -> subprocess.CompletedProcess:
    (folder / "manifest.json").write_bytes(files["manifest.json"])
    (folder / "signature").write_bytes(files["signature"])
    return subprocess.run(
        [
            "openssl", "smime", "-verify", "-binary", "-inform", "DER",
            "-in", str(folder / "signature"), "-content", str(folder / "manifest.json"),
            "-CAfile", str(root), "-purpose", "any", "-out", "/dev/null",
        ],
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip


@pytest.mark.usefixtures("sections_plugin")
async def test_the_pass_is_the_card_signed_for_apple_wallet(
    app, client, db, settings, credentials, tmp_path
):
    await set_setting(db, "enabled_plugins", ["wallettest"], None)
    await set_setting(db, "site_title", "Tessera East", None)
    await set_setting(db, "card_color", "#1f6f43", None)
    expires = dt.date.today() + dt.timedelta(days=200)
    member = await make_verified(
        db, sca_name="Aelfric of the Lake", membership_number="M4711", membership_expires_on=expires
    )
    token = await issued_token(db, settings, member)

    response = await client.get(f"/wallet/{token}/apple.pkpass")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vnd.apple.pkpass"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "set-cookie" not in response.headers

    # The archive: the pass, the images, a SHA-1 manifest of every file, the signature.
    files = unzip(response.content)
    assert set(files) == {"pass.json", "manifest.json", "signature", *IMAGES}
    manifest = json.loads(files["manifest.json"])
    assert set(manifest) == set(files) - {"manifest.json", "signature"}
    for name, digest in manifest.items():
        assert hashlib.sha1(files[name]).hexdigest() == digest, name

    # The signature is a detached PKCS #7 of the manifest, verifiable up to the root,
    # carrying the WWDR intermediate; a changed manifest no longer verifies.
    verified = openssl_verifies(tmp_path, files, credentials.root)
    assert verified.returncode == 0, verified.stderr
    assert "Verification successful" in verified.stderr
    carried = {
        c.subject.rfc4514_string() for c in pkcs7.load_der_pkcs7_certificates(files["signature"])
    }
    assert carried == {f"CN=Pass Type ID: {PASS_TYPE_ID}", "CN=Throwaway WWDR Intermediate"}
    tampered = dict(files, **{"manifest.json": files["manifest.json"].replace(b"{", b"{ ", 1)})
    assert openssl_verifies(tmp_path, tampered, credentials.root).returncode != 0

    # pass.json: the organisation, the member's facts, the sections, the check QR.
    body = json.loads(files["pass.json"])
    assert body["formatVersion"] == 1
    assert body["passTypeIdentifier"] == PASS_TYPE_ID and body["teamIdentifier"] == TEAM_ID
    assert body["organizationName"] == "Tessera East"
    assert body["backgroundColor"] == "rgb(31, 111, 67)"
    assert body["webServiceURL"] == "http://testserver/wallet/apple"
    assert len(body["authenticationToken"]) >= 16
    assert "voided" not in body
    generic = body["generic"]
    assert generic["headerFields"][0]["value"] == "Current member"
    assert generic["primaryFields"][0]["value"] == "Aelfric of the Lake"
    secondary = {f["key"]: f["value"] for f in generic["secondaryFields"]}
    assert secondary == {"membership": f"Valid until {expires.isoformat()}", "number": "M4711"}
    auxiliary = {f["key"]: f for f in generic["auxiliaryFields"]}
    assert auxiliary["first_section"]["label"] == "AUTHORIZATIONS"
    assert auxiliary["first_section"]["value"] == "Rapier"
    back = {f["key"]: f["value"] for f in generic["backFields"]}
    assert back["section_wallettest"] == "Fencing: Rapier: authorized — expires 2027-05-01"

    # The QR is the check link with a long-lived code: valid until the membership ends.
    (barcode,) = body["barcodes"]
    assert barcode["format"] == "PKBarcodeFormatQR"
    prefix = "http://testserver/check/"
    assert barcode["message"].startswith(prefix)
    code = codes.read(barcode["message"][len(prefix) :], keyring(app))
    assert code.public_id == member.public_id
    # (A few seconds to an hour before the day ends: each pass has a code of its own.)
    end_of_membership = dt.datetime.combine(expires, dt.time(23, 59, 59), dt.UTC)
    assert dt.timedelta(0) < end_of_membership - code.valid_until <= dt.timedelta(hours=1)
    assert body["expirationDate"] == code.valid_until.isoformat()
    check = await client.get(barcode["message"], headers={"Accept": "application/json"})
    assert check.json()["result"] == "ok"

    # Adding the card again gives the same pass; the database never holds its token.
    again = json.loads(
        unzip((await client.get(f"/wallet/{token}/apple.pkpass")).content)["pass.json"]
    )
    assert again["serialNumber"] == body["serialNumber"]
    assert again["authenticationToken"] == body["authenticationToken"]
    assert not await database_contains(db, settings, body["authenticationToken"])


async def test_unknown_and_revoked_links_get_no_pass(app, client, db, settings):
    member = await make_verified(db)
    token = await issued_token(db, settings, member)
    assert (await client.get("/wallet/AAAAAAAAAAAAAAAAAAAAAA/apple.pkpass")).status_code == 404
    await issued_token(db, settings, member)  # a new link replaces this one
    gone = await client.get(f"/wallet/{token}/apple.pkpass")
    assert gone.status_code == 410
    assert "replaced or revoked" in gone.text


async def test_guessing_card_links_for_passes_counts_as_for_cards(app, client, db, settings):
    member = await make_verified(db)
    token = await issued_token(db, settings, member)
    for n in range(20):
        assert (await client.get(f"/wallet/{n:022d}/apple.pkpass")).status_code == 404
    limited = await client.get(f"/wallet/{'9' * 22}/apple.pkpass")
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0
    assert (await client.get(f"/card/{'8' * 22}")).status_code == 429  # the card's limit too
    assert (await client.get(f"/wallet/{token}/apple.pkpass")).status_code == 200


async def test_revoked_check_codes_give_the_pass_a_new_one(app, client, db, settings):
    from server.checks.revocations import revoke_codes

    member = await make_verified(db)
    token = await issued_token(db, settings, member)
    before = json.loads(
        unzip((await client.get(f"/wallet/{token}/apple.pkpass")).content)["pass.json"]
    )
    old_url = before["barcodes"][0]["message"]
    await revoke_codes(db, member, None, "printed card lost")
    await db.commit()
    after = json.loads(
        unzip((await client.get(f"/wallet/{token}/apple.pkpass")).content)["pass.json"]
    )
    new_url = after["barcodes"][0]["message"]
    assert new_url != old_url and after["serialNumber"] == before["serialNumber"]
    accept = {"Accept": "application/json"}
    assert (await client.get(old_url, headers=accept)).json()["result"] == "revoked"
    assert (await client.get(new_url, headers=accept)).json()["result"] == "ok"
