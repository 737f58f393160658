"""The findings of the security review (issue 12), replayed as the attacks they were.

Each test follows an attacker's steps against the app as it runs and asserts that the
attack no longer works; each one succeeded before the fixes. The roles are the demo's
(``tests/role_fixtures.py``): the Deputy Membership Officer holds only the office's
permissions (``manage_members``, ``verify_members``, ``issue_card_links``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import io
import os
import re
import stat
import subprocess
import threading
import time
from pathlib import Path
from typing import Literal

import httpx
import pytest
from argon2 import PasswordHasher
from PIL import Image
from sqlalchemy import func, insert, select

from server.app import create_app
from server.audit.models import AuditEntry
from server.auth import passwords
from server.cards import link_routes
from server.cards.models import CardIssueJob, CardLink, CardPayload
from server.checks import routes as check_routes
from server.checks import runtime
from server.mail.delivery import deliver_once
from server.mail.models import OutboxMessage
from server.mail.sealed import unseal
from server.members.models import Branch, Member
from server.nightly.models import JobLock
from server.photos import images
from server.photos.store import save_photo
from server.settings.store import set_setting
from server.web.access_log import AccessLog
from server.web.ratelimit import RateLimiter
from server.web.sessions import COOKIE_NAME
from tests.card_fixtures import issued_token, reset_card_limiter
from tests.check_fixtures import code_for
from tests.factories import PASSWORD, csrf_from, login, make_member, post_form
from tests.live import LiveServer, raw_head, run_manage
from tests.reload import reload
from tests.role_fixtures import Offices

_reset_card_limiter = reset_card_limiter
ROOT = Path(__file__).resolve().parent.parent
SECRET = "test-secret-key-" + "x" * 32
ATTACKER_INBOX = "frida.reads.this@example.net"


@pytest.fixture(autouse=True)
def _fresh_limits():
    RateLimiter.reset_all()
    yield
    RateLimiter.reset_all()


def _manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run_manage({**os.environ, **env}, *args)


def _edit_data(member: Member, **changes: object) -> dict[str, object]:
    return {
        "version": str(member.version),
        "sca_name": member.sca_name,
        "first_name": member.first_name,
        "last_name": member.last_name,
        "email": member.email,
        "birth_month": str(member.birth_month or ""),
        "birth_year": str(member.birth_year or ""),
        "membership_number": member.membership_number or "",
        "membership_expires_on": str(member.membership_expires_on or ""),
        **changes,
    }


async def _officer_at_edit_form(
    client: httpx.AsyncClient, db, **member: object
) -> tuple[Member, Member, str]:
    """An officer logged in on a member's edit form: the officer, the member (made with
    ``member``) and the form's CSRF token."""
    offices = await Offices.make(db)
    officer = await offices.person(db, "officer")
    edited = await offices.person(db, "member", **member)
    await db.commit()
    await login(client, officer.email)
    return officer, edited, await csrf_from(client, f"/members/{edited.id}/edit")


async def _mail_to(db, address: str) -> list[OutboxMessage]:
    rows = list(
        (
            await db.execute(
                select(OutboxMessage).where(func.lower(OutboxMessage.to_addr) == address.lower())
            )
        ).scalars()
    )
    await db.commit()
    return rows


async def _ask_reset(client: httpx.AsyncClient, email: str) -> httpx.Response:
    return await post_form(client, "/password-reset", {"email": email}, form_page="/password-reset")


# 1. HIGH — account takeover by a membership deputy ---------------------------------


async def test_1_a_deputy_cannot_take_over_the_superuser(client, db):
    offices = await Offices.make(db)
    root = await offices.person(db, "superuser", email="root@example.org")
    frida = await offices.person(db, "officer", email="frida5@example.org")
    await db.commit()
    await login(client, frida.email)
    # She opens the superuser's edit page and points the login email at her inbox …
    assert (await client.get(f"/members/{root.id}/edit")).status_code == 403
    token = await csrf_from(client, "/members")
    edit = await client.post(
        f"/members/{root.id}/edit",
        data={**_edit_data(root, email=ATTACKER_INBOX), "csrf_token": token},
    )
    assert edit.status_code == 403
    # … asks for a password reset to that address …
    client.cookies.clear()
    assert (await _ask_reset(client, ATTACKER_INBOX)).status_code == 200
    # … and receives nothing: the superuser's account is untouched.
    await reload(db, root)
    assert root.email == "root@example.org"
    assert await _mail_to(db, ATTACKER_INBOX) == []
    assert (await login(client, "root@example.org")).status_code == 303


async def test_1_a_changed_login_email_is_announced_and_a_reset_tells_the_old_address(client, db):
    """Even a legitimate officer changing an email cannot then reset the password silently."""
    officer, member, token = await _officer_at_edit_form(
        client, db, email="old.address@example.org"
    )
    data = {**_edit_data(member, email=ATTACKER_INBOX), "csrf_token": token}
    assert (await client.post(f"/members/{member.id}/edit", data=data)).status_code == 303
    [notice] = await _mail_to(db, "old.address@example.org")
    assert "login email" in notice.subject
    assert ATTACKER_INBOX in notice.body_text and officer.display_name in notice.body_text

    client.cookies.clear()
    await _ask_reset(client, ATTACKER_INBOX)
    [reset] = await _mail_to(db, ATTACKER_INBOX)
    assert "/password-reset/" in unseal(reset.body_text, SECRET)
    told = await _mail_to(db, "old.address@example.org")
    assert len(told) == 2 and "password reset" in told[1].subject
    assert ATTACKER_INBOX in told[1].body_text


async def test_1_a_chair_cannot_strip_a_group_to_then_take_its_members_accounts(client, db):
    """The office's chair (``manage_groups``) empties the Marshallate's permissions, so its
    marshal would hold nothing the chair lacks, and then takes the marshal's email."""
    offices = await Offices.make(db)
    chair = await offices.person(db, "chair")
    marshal = await offices.person(db, "marshal", email="marshal@example.org")
    await db.commit()
    await login(client, chair.email)
    group = offices.marshallate
    stripped = await post_form(
        client,
        f"/groups/{group.id}/edit",
        {"name": group.name, "description": "", "since": str(group.since)},
        form_page=f"/groups/{group.id}/edit",
    )
    assert stripped.status_code == 400 and "you do not hold" in stripped.text
    await reload(db, group)
    assert group.permissions == ["check_cards"]
    token = await csrf_from(client, "/members")
    edit = await client.post(
        f"/members/{marshal.id}/edit",
        data={**_edit_data(marshal, email=ATTACKER_INBOX), "csrf_token": token},
    )
    assert edit.status_code == 403
    await reload(db, marshal)
    assert marshal.email == "marshal@example.org"


# 2. MEDIUM — a deputy deactivates every superuser; create-admin does not bring one back


async def test_2_a_deputy_cannot_deactivate_a_superuser(client, db):
    offices = await Offices.make(db)
    root = await offices.person(db, "superuser")
    frida = await offices.person(db, "officer")
    await db.commit()
    await login(client, frida.email)
    response = await post_form(
        client,
        f"/members/{root.id}/deactivate",
        {"version": root.version, "reason": "coup"},
        form_page=f"/members/{root.id}/status",
    )
    assert response.status_code == 303
    page = await client.get(response.headers["location"])
    assert "only a superuser may change their account" in page.text
    await reload(db, root)
    assert root.deactivated_at is None


async def test_2_create_admin_brings_a_deactivated_admin_back(client, db, database_url, tmp_path):
    root = await make_member(
        db,
        email="root@example.org",
        is_superuser=True,
        is_staff=True,
        deactivated_at=dt.datetime.now(dt.UTC),
        deactivation_reason="deactivated by a deputy",
    )
    await db.commit()
    assert "has been deactivated" in (await login(client, root.email)).text
    env = {"DATABASE_URL": database_url, "TESSERA_DATA_DIR": str(tmp_path)}
    done = _manage(env, "create-admin", "root@example.org", "--password", "a new long password")
    assert done.returncode == 0, done.stderr
    assert "Reactivated superuser" in done.stdout
    assert (await login(client, root.email, "a new long password")).status_code == 303
    [audit] = (
        await db.execute(select(AuditEntry).where(AuditEntry.action == "member.create_admin"))
    ).scalars()
    await db.commit()
    assert audit.before["status"] == "deactivated" and audit.after["status"] == "active"


# 3. MEDIUM — logout does not end the session -----------------------------------------


async def test_3_a_cookie_copied_before_logout_stays_dead(app, client, db):
    member = await make_member(db)
    await db.commit()
    await login(client, member.email)
    copied = client.cookies[COOKIE_NAME]
    await post_form(client, "/logout", {})
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50002))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as thief:
        thief.cookies.set(COOKIE_NAME, copied)
        assert (await thief.get("/me")).status_code == 303


# 4. MEDIUM — photo processing runs on the event loop ---------------------------------


def _png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 100, 50)).save(out, "PNG")
    return out.getvalue()


async def test_4_a_huge_png_is_refused_and_a_large_one_does_not_stall_other_requests(client, db):
    member = await make_member(db)
    await db.commit()
    await login(client, member.email)
    token = await csrf_from(client, f"/members/{member.id}/photo/upload")

    async def upload(data: bytes) -> httpx.Response:
        return await client.post(
            f"/members/{member.id}/photo/upload",
            data={"csrf_token": token, "action": "upload"},
            files={"photo": ("big.png", data, "image/png")},
        )

    bomb = _png(7000, 7000)  # 49 million pixels in about 160 KB
    refused = await upload(bomb)
    assert refused.status_code == 400 and "too many pixels" in refused.text

    # While a large (accepted) photo is processed, the event loop keeps running: its
    # longest pause is a small part of the upload's time, not all of it.
    longest_pause = 0.0
    stop = asyncio.Event()

    async def heartbeat() -> None:
        nonlocal longest_pause
        last = time.perf_counter()
        while not stop.is_set():
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            longest_pause = max(longest_pause, now - last)
            last = now

    beating = asyncio.create_task(heartbeat())
    started = time.perf_counter()
    accepted = await upload(_png(6000, 6000))  # the issue's 120 KB PNG: half a second
    took = time.perf_counter() - started
    stop.set()
    await beating
    assert accepted.status_code == 303
    assert longest_pause < took / 4, (longest_pause, took)


# 5. LOW — enumeration through lockout ------------------------------------------------


async def test_5_the_lockout_tells_nobody_whether_an_address_exists(client, db):
    member = await make_member(db, email="known@example.org")
    await db.commit()

    async def answers(email: str) -> list[str]:
        found = []
        for _ in range(7):
            page = (await login(client, email, "a wrong guess")).text
            found.append(re.search(r"role=\"alert\">\s*<p>([^<]*)</p>", page).group(1))
        return found

    assert await answers("known@example.org") == await answers("unknown@example.org")
    # After the lock expires, one typo does not lock again.
    await reload(db, member)
    member.locked_until = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    await db.commit()
    await login(client, member.email, "one typo")
    assert (await login(client, member.email, PASSWORD)).status_code == 303


class _CountingHasher(PasswordHasher):
    """The real argon2 hasher, noting the parameters of every hash it verifies against."""

    def __init__(self) -> None:
        super().__init__()
        self.verified: list[str] = []

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        text = hash.decode() if isinstance(hash, bytes) else hash
        self.verified.append(text.rsplit("$", 2)[0])  # $argon2id$v=19$m=…,t=…,p=…
        return super().verify(hash, password)


async def test_5_known_unknown_and_locked_addresses_cost_the_same_hashing(client, db, monkeypatch):
    """Timing, asserted as the work done rather than the clock: every failed attempt,
    whether the address is unknown, known or locked, verifies exactly one argon2 hash
    of the same parameters (the hashing is what takes the time). The known member's
    hash is made at the real parameters, as an account's is (factories make quick ones)."""
    await make_member(
        db, email="known@example.org", password_hash=passwords.hash_password(PASSWORD)
    )
    await db.commit()
    hasher = _CountingHasher()
    monkeypatch.setattr(passwords, "_hasher", hasher)
    attempts = [("unknown@example.org", "a wrong guess")] * 2
    attempts += [("known@example.org", "a wrong guess")] * 6  # the fifth locks
    attempts += [("known@example.org", PASSWORD)]  # right, but locked
    for email, password in attempts:
        before = len(hasher.verified)
        response = await login(client, email, password)
        assert response.status_code == 400
        assert len(hasher.verified) == before + 1, (email, password)
    assert len(set(hasher.verified)) == 1, hasher.verified


# 6. LOW — rate limits lock out the innocent ------------------------------------------


async def test_6_a_guesser_behind_the_same_address_does_not_block_valid_cards(client, db, settings):
    member = await make_member(db)
    token = await issued_token(db, settings, member)
    for n in range(25):
        await client.get(f"/card/{n:022d}.json")
    assert (await client.get(f"/card/{token}.json")).status_code == 200


async def test_6_forged_codes_do_not_block_genuine_ones(app, client, db):
    member = await make_member(
        db,
        membership_number="M1",
        membership_expires_on=dt.date.today() + dt.timedelta(days=90),
        verified_at=dt.datetime.now(dt.UTC),
    )
    await db.commit()
    for n in range(70):
        await client.get(f"/check/{'forged' * 8}{n}")
    genuine = await client.get(f"/check/{code_for(app, member)}", headers={"Accept": "*/*"})
    assert genuine.status_code == 200 and "OK" in genuine.text
    await runtime.flush_log(app)
    check_routes.failure_limiter.reset()


def test_6_a_flood_of_addresses_does_not_free_a_held_back_guesser():
    limiter = RateLimiter(limit=3, window=600, max_keys=100)
    for _ in range(3):
        limiter.hit("198.51.100.7")
    for n in range(150):
        limiter.hit(f"203.0.113.{n}")
    assert limiter.retry_after("198.51.100.7") > 0


# 7. LOW ------------------------------------------------------------------------------


async def test_7_a_stale_profile_form_says_reload_instead_of_500(client, db):
    await set_setting(
        db,
        "additional_info_fields",
        [{"key": "household", "label": "Household", "type": "text", "member_editable": True}],
        None,
    )
    member = await make_member(db)
    await db.commit()
    await login(client, member.email)
    token = await csrf_from(client, "/me")
    stale = {"csrf_token": token, "version": member.version, "info_household": "A"}
    assert (await client.post("/me/info", data=stale)).status_code == 303
    again = await client.post("/me/info", data={**stale, "info_household": "B"})
    assert again.status_code == 409 and "changed by someone else" in again.text


async def test_7_guessing_the_current_password_on_the_profile_locks_like_login(client, db):
    member = await make_member(db)
    await db.commit()
    await login(client, member.email)
    for _ in range(5):
        token = await csrf_from(client, "/me")
        wrong = await client.post(
            "/me/password",
            data={
                "csrf_token": token,
                "current_password": "a wrong guess",
                "password": "new password!!",
                "password_again": "new password!!",
            },
        )
        assert wrong.status_code == 400
    assert "Too many failed attempts" in wrong.text
    token = await csrf_from(client, "/me")
    right = await client.post(
        "/me/password",
        data={
            "csrf_token": token,
            "current_password": PASSWORD,
            "password": "new password!!",
            "password_again": "new password!!",
        },
    )
    assert right.status_code == 400 and "Too many failed attempts" in right.text


async def test_7_a_marshal_sees_a_photo_only_inside_a_check(app, client, db):
    offices = await Offices.make(db)
    marshal = await offices.person(db, "marshal")
    member = await offices.person(db, "member")
    out = io.BytesIO()
    Image.new("RGB", (60, 80), (10, 20, 30)).save(out, "JPEG")
    from server.photos.images import process

    await save_photo(db, member.id, process(out.getvalue()), None)
    await db.commit()
    await login(client, marshal.email)
    assert (await client.get(f"/members/{member.id}/photo")).status_code == 403
    checked = await client.get(
        f"/check/{code_for(app, member)}", headers={"Accept": "application/json"}
    )
    assert checked.json()["photo"].startswith("data:image/jpeg;base64,")
    await runtime.flush_log(app)


async def test_7_https_deployments_send_strict_transport_security(settings):
    for base_url, expected in (("https://members.example.org", True), (settings.base_url, False)):
        app = create_app(dataclasses.replace(settings, base_url=base_url))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            response = await c.get("/login")
        await app.state.engine.dispose()
        assert ("strict-transport-security" in response.headers) is expected
        if expected:
            assert "max-age=" in response.headers["strict-transport-security"]


def test_7_the_data_directory_and_database_files_are_private(tmp_path):
    data = tmp_path / "data"
    env = {"TESSERA_DATA_DIR": str(data), "SECRET_KEY": "s" * 48}
    env_without_url = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    done = run_manage({**env_without_url, **env}, "migrate")
    assert done.returncode == 0, done.stderr
    database = data / "tessera.sqlite3"
    server = LiveServer(tmp_path / "logs", f"sqlite+aiosqlite:///{database}", env)
    server.log_path.parent.mkdir()
    server.start()
    try:
        with httpx.Client() as browser:
            assert browser.get(server.url + "/login").status_code == 200
        files = [database, Path(f"{database}-wal"), Path(f"{database}-shm")]
        assert all(f.exists() for f in files)
        assert stat.S_IMODE(data.stat().st_mode) == 0o700
        for file in files:
            assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
    finally:
        server.stop()


async def test_7_retiring_the_previous_key_makes_mobile_cards_stale_at_once(
    client, db, settings, database_url
):
    member = await make_member(db)
    token = await issued_token(db, settings, member)
    assert (await client.get(f"/card/{token}.json")).status_code == 200  # built, key 1
    env = {"DATABASE_URL": database_url, "TESSERA_DATA_DIR": str(settings.data_dir)}
    done = _manage(env, "rotate-check-key", "--retire-previous")
    assert done.returncode == 0, done.stderr
    body = (
        await db.execute(select(CardPayload.body).where(CardPayload.member_id == member.id))
    ).scalar_one()
    await db.commit()
    assert body is None  # stale: the next refresh carries a code of the new key


async def test_7_invisible_direction_controls_are_stripped_from_names(client, db):
    _, member, token = await _officer_at_edit_form(client, db)
    spoof = "Hal\u202efdlaw\u202c of the \u2066Lake\u2069\u200b"
    data = {**_edit_data(member, sca_name=spoof), "csrf_token": token}
    assert (await client.post(f"/members/{member.id}/edit", data=data)).status_code == 303
    await reload(db, member)
    assert member.sca_name == "Halfdlaw of the Lake"


async def test_7_console_mail_keeps_links_out_of_a_production_log(app, db, settings, capsys):
    member = await make_member(db)
    await issued_token(db, settings, member)
    await deliver_once(app.state.sessionmaker, settings)  # BASE_URL is not loopback
    printed = capsys.readouterr().out
    assert "/card/[redacted]" in printed and not re.search(r"/card/[A-Za-z0-9_-]{10}", printed)

    await issued_token(db, settings, member)
    local = dataclasses.replace(settings, base_url="http://127.0.0.1:8000")
    await deliver_once(app.state.sessionmaker, local)
    assert re.search(r"/card/[A-Za-z0-9_-]{20}", capsys.readouterr().out)


async def _branch_of_many(db, count: int) -> Branch:
    branch = Branch(name="Shire of Many")
    db.add(branch)
    await db.flush()
    await db.execute(
        insert(Member),
        [
            {
                "email": f"bulk{n}@example.org",
                "email_key": f"bulk{n}@example.org",
                "sca_name": f"Bulk {n}",
                "branch_id": branch.id,
            }
            for n in range(count)
        ],
    )
    return branch


async def test_7_a_bulk_card_run_is_refused_while_another_runs(client, db, database_url, tmp_path):
    """Another server's (or the command line's) run holds the way: the page and the
    command both refuse with a message, and nothing is issued twice."""
    offices = await Offices.make(db)
    officer = await offices.person(db, "officer")
    branch = await _branch_of_many(db, 3)
    await db.commit()
    env = {"DATABASE_URL": database_url, "TESSERA_DATA_DIR": str(tmp_path)}
    # A run from the command line of another server, still going (its lease is fresh).
    db.add(
        JobLock(
            name="cards.bulk_issue",
            holder="command:other-server:4242",
            locked_until=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=50),
        )
    )
    await db.commit()
    await login(client, officer.email)
    response = await post_form(
        client, "/cards/bulk", {"branch_id": str(branch.id)}, form_page="/cards/bulk"
    )
    assert response.headers["location"] == "/cards/bulk"
    assert "Another card issuing run" in (await client.get("/cards/bulk")).text
    command = _manage(env, "issue-cards", "--branch", "Shire of Many")
    assert command.returncode == 1 and "Another card issuing run" in command.stderr
    assert await _count(db, CardIssueJob) == 0 and await _count(db, CardLink) == 0


@pytest.mark.postgres_only
async def test_7_two_bulk_card_runs_started_together_on_postgresql(client, db):
    offices = await Offices.make(db)
    officer = await offices.person(db, "officer")
    branch = await _branch_of_many(db, 700)
    await db.commit()
    await login(client, officer.email)
    token = await csrf_from(client, "/cards/bulk")
    form = {"csrf_token": token, "branch_id": str(branch.id)}
    first, second = await asyncio.gather(
        client.post("/cards/bulk", data=form), client.post("/cards/bulk", data=form)
    )
    await asyncio.gather(*link_routes._RUNNING)
    jobs = list((await db.execute(select(CardIssueJob))).scalars())
    await db.commit()
    assert len(jobs) == 1 and jobs[0].state == "finished" and jobs[0].done == 700
    refused = second if second.headers["location"] == "/cards/bulk" else first
    page = await client.get(refused.headers["location"])
    assert "Another card issuing run" in page.text


async def _count(db, model) -> int:
    value = await db.scalar(select(func.count()).select_from(model))
    await db.commit()
    return int(value or 0)


# A later attacker's replay (sec2): what the first fixes left open ------------------

BLANK_LOOKING = "\u3164\u115f\u1160\uffa0\u034f\u17b4"  # Hangul fillers and friends


async def test_sec2_a_name_of_invisible_fillers_is_refused_not_shown_blank(client, db):
    """The deputy renamed a member to Hangul fillers (U+3164 …): the register, the card
    and a marshal's check then showed a member with a blank name, and a name with a
    filler or a line separator inside looked like another member's. They are stripped
    now like the direction controls, so a name of nothing but them is no name at all."""
    _, member, token = await _officer_at_edit_form(client, db)
    names = {"sca_name": BLANK_LOOKING, "first_name": BLANK_LOOKING, "last_name": "\u3164"}
    blank = {**_edit_data(member, **names), "csrf_token": token}
    refused = await client.post(f"/members/{member.id}/edit", data=blank)
    assert refused.status_code == 400 and "Give an SCA name or a legal name" in refused.text
    lookalike = f"Hal{BLANK_LOOKING}dor\u2028of the Lake\u2029"
    data = {
        **_edit_data(member, sca_name=lookalike, city=f"York{BLANK_LOOKING}"),
        "csrf_token": token,
    }
    assert (await client.post(f"/members/{member.id}/edit", data=data)).status_code == 303
    await reload(db, member)
    assert (member.sca_name, member.city) == ("Haldorof the Lake", "York")


@pytest.mark.parametrize("token", ["w" * 21, "w" * 23, "w" * 40])
async def test_sec2_a_mistyped_wallet_link_keeps_its_token_out_of_the_access_log(token):
    """A member's wallet link arrives with a character lost (or one added) in a forward:
    the 404 went into the access log with the token whole (only 22 characters were
    masked), and whoever reads the logs had the card link but for one guessed character.
    Tokens of any length are masked now, as in card links."""
    written: list[str] = []
    log = AccessLog(written.append)
    log.add(1_764_500_000.0, "GET", f"/wallet/{token}/apple.pkpass", 404, 0.001)
    log.add(1_764_500_000.5, "GET", f"/wallet/{token}/google", 404, 0.001)
    log.add(1_764_500_001.0, "POST", "/members/12/wallet/3/void", 303, 0.001)
    log.flush()
    text = "".join(written)
    assert token not in text and text.count("/wallet/[redacted]/") == 2
    assert "/members/12/wallet/3/void" in text  # a pass number is no secret


async def test_sec2_a_member_firing_many_large_images_gets_try_again_not_a_long_line(
    client, db, monkeypatch
):
    """A member sent a dozen large PNGs as their membership proof at once: each waited its
    turn for the one photo thread (about a second each), the last answered after half a
    minute, every upload held in memory meanwhile and everyone else's photo queued
    behind them. The line is bounded now: a member has at most two images in it and the
    others are answered at once with "send it again in a minute"."""
    member = await make_member(db, email="flood@example.org")
    await db.commit()
    await login(client, member.email)
    token = await csrf_from(client, "/me/membership-proof")
    working = threading.Event()  # the photo thread holds each image until released
    real = images.process

    def slow(upload: bytes, max_side: int = images.MAX_SIDE) -> images.Photo:
        working.wait(10)
        return real(upload, max_side)

    monkeypatch.setattr(images, "process", slow)
    card = io.BytesIO()
    Image.new("RGB", (800, 500), (10, 100, 200)).save(card, "JPEG")

    async def send() -> httpx.Response:
        return await client.post(
            "/me/membership-proof",
            data={"csrf_token": token, "membership_number": "12345"},
            files={"image": ("card.jpg", card.getvalue(), "image/jpeg")},
        )

    sending = [asyncio.create_task(send()) for _ in range(6)]
    for _ in range(100):  # until the four beyond the member's share are answered
        if sum(task.done() for task in sending) >= 4:
            break
        await asyncio.sleep(0.05)
    answered_at_once = sum(task.done() for task in sending)
    working.set()
    answers = await asyncio.gather(*sending)
    assert answered_at_once == 4, "the uploads waited in line"
    busy = [r for r in answers if r.status_code == 400]
    assert len(busy) == 4 and all("Send it again in a minute" in r.text for r in busy)
    assert [r.status_code for r in answers].count(303) == 2


def test_sec2_a_request_uvicorn_cannot_parse_is_answered_with_the_security_headers(
    database_url, tmp_path, sqlite_only
):
    """A malformed request (a bad Content-Length, a control character in the path) never
    reaches the app: uvicorn answered it "400 Invalid HTTP request" by itself, the one
    answer of the server without CSP, nosniff or — behind https — HSTS. It carries them
    now like every other answer."""
    server = LiveServer(
        tmp_path / "live", database_url, extra_env={"BASE_URL": "https://members.example.org"}
    )
    server.log_path.parent.mkdir(parents=True, exist_ok=True)
    server.start()
    try:
        for request in (
            b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
            b"GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n",
            b"NOT HTTP AT ALL\r\n\r\n",
        ):
            head = raw_head(server.port, request)
            assert head.startswith("http/1.1 400"), head
            for header in (
                "content-security-policy: default-src 'self'",
                "x-content-type-options: nosniff",
                "referrer-policy: same-origin",
                "x-frame-options: deny",
                "strict-transport-security: max-age=31536000",
            ):
                assert header in head, (header, head)
    finally:
        server.stop()
