"""The live check and the offline scanner give every code of the shared vectors its answer.

``tests/vectors/check_codes.json`` (made by ``tests/vectors/make_check_codes.py``) lists
genuine, expired, retired-key, altered, forged and malformed codes with the result each
must get for a member in good standing. The server decides them with
``server.checks.decide``; the scanner decides them offline with its own JavaScript
(``static/scan/scanner.js``: Web Crypto's Ed25519) in Chromium.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from playwright.async_api import expect

from server.checks import codes, keyring
from server.checks.decide import decide
from server.checks.lookup import MemberFacts
from tests.check_fixtures import log_in_to_scanner
from tests.factories import make_staff
from tests.live import LiveServer
from tests.vectors import make_check_codes

VECTORS = json.loads(make_check_codes.PATH.read_text())
EXPECTED = {vector["name"]: vector["result"] for vector in VECTORS["codes"]}


def _install_keys(data_dir: Path) -> keyring.Keyring:
    """The vectors' keyring as a server keeps it in its data directory."""
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / keyring.FILE_NAME).write_text(json.dumps(VECTORS["check_keys"]))
    return keyring.load_or_create(data_dir)


async def _in_good_standing(public_id: str) -> MemberFacts:
    return MemberFacts(
        member_id=1,
        public_id=public_id,
        sca_name="Aelfric",
        branch_name="Shire of Vectors",
        status="verified",
        membership_expires_on=dt.date(2099, 12, 31),
        deleted=False,
        revoked_before=None,
    )


def test_the_vectors_file_is_what_its_script_makes():
    assert make_check_codes.PATH.read_text() == make_check_codes.render(), (
        "run: python -m tests.vectors.make_check_codes"
    )


@pytest.mark.parametrize("vector", VECTORS["codes"], ids=[v["name"] for v in VECTORS["codes"]])
async def test_the_live_check_gives_each_code_its_answer(vector, tmp_path):
    ring = _install_keys(tmp_path)
    now = dt.datetime.now(dt.UTC)
    verdict = await decide(vector["code"], ring, _in_good_standing, now)
    assert verdict.result.key == vector["result"], verdict.reason
    try:
        codes.read(vector["code"], ring)
    except codes.CodeRejected:
        trusted = False
    else:
        trusted = True
    assert trusted == (vector["result"] in {"ok", "code_expired"})


@pytest.mark.browser
async def test_the_offline_scanner_gives_each_code_its_answer(
    sqlite_only, database_url, db, browser, tmp_path
):
    data_dir = tmp_path / "live"
    _install_keys(data_dir)
    marshal = await make_staff(db, ["check_cards"], sca_name="Marshal Maud")
    await db.commit()
    server = LiveServer(data_dir, database_url)
    server.start()
    try:
        page = await browser.new_page()
        await log_in_to_scanner(page, server.url, marshal.email)
        await expect(page.locator("#keys-state")).to_contain_text("3 key(s)")
    finally:
        server.stop()  # the signal is gone: every check is decided on the phone

    answers: dict[str, str | None] = {}
    for vector in VECTORS["codes"]:
        await page.evaluate("delete document.getElementById('result').dataset.result")
        await page.get_by_label("Or type or paste the code").fill(vector["code"])
        await page.get_by_role("button", name="Check", exact=True).click()
        answer = page.locator("#result[data-result]")
        await answer.wait_for()
        assert await answer.get_attribute("data-mode") == "offline"
        answers[vector["name"]] = await answer.get_attribute("data-result")
    assert answers == EXPECTED
