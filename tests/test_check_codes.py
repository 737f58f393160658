"""Contract tests over the check code format, the keyring and the decision steps."""

from __future__ import annotations

import datetime as dt
import os
import stat

import pytest

from server.checks import codes, keyring
from server.checks.decide import decide
from server.checks.keyring import b64d, b64e
from server.checks.lookup import MemberFacts

NOW = dt.datetime(2026, 11, 21, 14, 30, tzinfo=dt.UTC)
PUBLIC_ID = "0123456789abcdef"


def facts(**kw) -> MemberFacts:
    base = {
        "member_id": 7,
        "public_id": PUBLIC_ID,
        "sca_name": "Aelfric",
        "branch_name": "Shire of Testing",
        "status": "verified",
        "membership_expires_on": dt.date(2027, 6, 1),
        "deleted": False,
        "revoked_before": None,
    }
    base.update(kw)
    return MemberFacts(**base)


def lookup_of(member: MemberFacts | None):
    async def lookup(public_id: str) -> MemberFacts | None:
        return member if member and member.public_id == public_id else None

    return lookup


@pytest.fixture
def ring(tmp_path):
    return keyring.load_or_create(tmp_path)


def test_keyring_is_made_once_private_and_reused(tmp_path):
    first = keyring.load_or_create(tmp_path)
    again = keyring.load_or_create(tmp_path)
    path = tmp_path / keyring.FILE_NAME
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert first.current.public_raw == again.current.public_raw
    assert [k["kid"] for k in first.public_keys()] == [1]
    assert "private" not in str(first.public_keys())


def test_code_round_trip_carries_exactly_the_documented_fields(ring):
    code = codes.mobile_code(ring, PUBLIC_ID, NOW)
    read = codes.read(code, ring)
    assert read.public_id == PUBLIC_ID
    assert read.key_id == 1
    assert read.issued_at == dt.datetime(2026, 11, 21, 0, 0, tzinfo=dt.UTC)
    assert read.valid_until - read.issued_at == dt.timedelta(hours=72)
    raw = b64d(code)
    # version 1 + key id 2 + id length 1 + id 8 + two times 8 + signature 64: nothing else.
    assert len(raw) == 1 + 2 + 1 + 8 + 8 + 64
    assert raw[0] == codes.VERSION
    assert len(code) <= 120


def test_mobile_code_is_stable_all_utc_day_and_changes_at_utc_midnight(ring):
    start = dt.datetime(2026, 11, 21, 0, 0, tzinfo=dt.UTC)
    a = codes.mobile_code(ring, PUBLIC_ID, start)
    b = codes.mobile_code(ring, PUBLIC_ID, start + dt.timedelta(hours=23, minutes=59, seconds=59))
    # The same moment seen from another time zone is the same UTC day.
    east = dt.timezone(dt.timedelta(hours=10))
    b_east = codes.mobile_code(ring, PUBLIC_ID, (start + dt.timedelta(hours=20)).astimezone(east))
    c = codes.mobile_code(ring, PUBLIC_ID, start + dt.timedelta(days=1))
    assert a == b == b_east  # Ed25519 is deterministic; issued-at is the start of the UTC day
    assert c != a
    assert codes.read(c, ring).issued_at == start + dt.timedelta(days=1)
    assert codes.read(a, ring).valid_until == start + codes.MOBILE_VALIDITY


def test_printed_code_keeps_its_hour_buckets(ring):
    a = codes.printed_code(ring, PUBLIC_ID, NOW, dt.date(2027, 3, 1))
    b = codes.printed_code(ring, PUBLIC_ID, NOW + dt.timedelta(minutes=29), dt.date(2027, 3, 1))
    c = codes.printed_code(ring, PUBLIC_ID, NOW + dt.timedelta(minutes=31), dt.date(2027, 3, 1))
    assert a == b != c


def test_code_made_after_a_revocation_is_not_inside_the_revoked_range(ring):
    revoked_at = NOW + dt.timedelta(minutes=5, seconds=3, microseconds=10)
    code = codes.read(codes.mobile_code(ring, PUBLIC_ID, revoked_at, revoked_at), ring)
    assert code.issued_at > revoked_at
    later = NOW + dt.timedelta(hours=3)  # the same day: still issued just after the revocation
    assert codes.read(codes.mobile_code(ring, PUBLIC_ID, later, revoked_at), ring) == code
    next_day = codes.read(
        codes.mobile_code(ring, PUBLIC_ID, NOW + dt.timedelta(days=1), revoked_at), ring
    )
    assert next_day.issued_at == dt.datetime(2026, 11, 22, tzinfo=dt.UTC)


def test_printed_code_lasts_until_membership_expiry_at_most_a_year(ring):
    soon = codes.read(codes.printed_code(ring, PUBLIC_ID, NOW, dt.date(2027, 3, 1)), ring)
    assert soon.valid_until == dt.datetime(2027, 3, 1, 23, 59, 59, tzinfo=dt.UTC)
    late = codes.read(codes.printed_code(ring, PUBLIC_ID, NOW, dt.date(2030, 1, 1)), ring)
    assert late.valid_until - late.issued_at == dt.timedelta(days=365)


def _flip(code: str, index: int) -> str:
    raw = bytearray(b64d(code))
    raw[index] ^= 0x01
    return b64e(bytes(raw))


async def test_tampered_payload_is_unknown(ring):
    code = codes.mobile_code(ring, PUBLIC_ID, NOW)
    for index in (4, 12, 16):  # public id, issued-at, valid-until
        verdict = await decide(_flip(code, index), ring, lookup_of(facts()), NOW)
        assert verdict.result.key == "unknown"
        assert "altered or forged" in verdict.reason
        assert verdict.member is None


async def test_tampered_signature_is_unknown(ring):
    code = codes.mobile_code(ring, PUBLIC_ID, NOW)
    verdict = await decide(_flip(code, -1), ring, lookup_of(facts()), NOW)
    assert verdict.result.key == "unknown"


async def test_unknown_key_id_is_unknown(ring, tmp_path):
    other = keyring.rotate(tmp_path / "other")  # kids 1 and 2, different keys
    code = codes.mobile_code(other, PUBLIC_ID, NOW)  # signed by kid 2
    verdict = await decide(code, ring, lookup_of(facts()), NOW)
    assert verdict.result.key == "unknown"
    assert "does not know" in verdict.reason
    foreign_kid1 = codes.sign(other.keys[1], PUBLIC_ID, NOW, NOW + dt.timedelta(hours=1))
    assert (await decide(foreign_kid1, ring, lookup_of(facts()), NOW)).result.key == "unknown"


async def test_garbage_is_unknown(ring):
    for text in ("", "hello", "!!!", "A" * 500, b64e(b"\x02" + b"\x00" * 100)):
        assert (await decide(text, ring, lookup_of(facts()), NOW)).result.key == "unknown"


async def test_expired_code(ring):
    code = codes.mobile_code(ring, PUBLIC_ID, NOW)
    later = NOW + dt.timedelta(hours=72)
    verdict = await decide(code, ring, lookup_of(facts()), later)
    assert verdict.result.key == "code_expired"
    assert verdict.member is not None  # still logged against the member
    assert (await decide(code, ring, lookup_of(facts()), NOW)).result.key == "ok"


async def test_revoked_codes_and_new_codes_after_revocation(ring):
    code = codes.mobile_code(ring, PUBLIC_ID, NOW)
    revoked = facts(revoked_before=NOW + dt.timedelta(minutes=1))
    assert (await decide(code, ring, lookup_of(revoked), NOW)).result.key == "revoked"
    fresh = codes.mobile_code(
        ring, PUBLIC_ID, NOW + dt.timedelta(minutes=2), revoked.revoked_before
    )
    later = NOW + dt.timedelta(minutes=2)
    assert (await decide(fresh, ring, lookup_of(revoked), later)).result.key == "ok"


async def test_rotation_keeps_earlier_codes_and_retiring_refuses_them(tmp_path):
    ring = keyring.load_or_create(tmp_path)
    old_code = codes.mobile_code(ring, PUBLIC_ID, NOW)
    rotated = keyring.rotate(tmp_path)
    assert rotated.current_id == 2
    new_code = codes.mobile_code(rotated, PUBLIC_ID, NOW)
    assert codes.read(new_code, rotated).key_id == 2
    assert (await decide(old_code, rotated, lookup_of(facts()), NOW)).result.key == "ok"
    retired = keyring.retire(tmp_path, 1)
    verdict = await decide(old_code, retired, lookup_of(facts()), NOW)
    assert verdict.result.key == "revoked"
    assert "retired" in verdict.reason
    assert (await decide(new_code, retired, lookup_of(facts()), NOW)).result.key == "ok"
    assert [k["retired"] for k in retired.public_keys()] == [True, False]
    with pytest.raises(ValueError):
        keyring.retire(tmp_path, 2)  # the current key


@pytest.mark.parametrize(
    ("member", "expected"),
    [
        (facts(), "ok"),
        (facts(membership_expires_on=dt.date(2026, 11, 20)), "membership_expired"),
        (facts(membership_expires_on=None), "membership_expired"),
        (facts(status="active"), "unverified"),
        (facts(status="minor_parent_verified"), "unverified"),
        (facts(status="minor_unverified"), "minor_needs_parent"),
        (facts(status="minor_membership_verified"), "minor_needs_parent"),
        (facts(status="deactivated"), "deactivated"),
        (facts(deleted=True), "unknown"),
        (None, "unknown"),
    ],
)
async def test_live_state_decides_the_result(ring, member, expected):
    code = codes.mobile_code(ring, PUBLIC_ID, NOW)
    assert (await decide(code, ring, lookup_of(member), NOW)).result.key == expected


def test_keyring_cache_follows_a_rotation_made_elsewhere(tmp_path, monkeypatch):
    cache = keyring.KeyringCache(tmp_path)
    assert cache.get().current_id == 1
    keyring.rotate(tmp_path)
    monkeypatch.setattr(keyring, "RELOAD_SECONDS", 0.0)
    os.utime(tmp_path / keyring.FILE_NAME, (1, 1))  # make sure the mtime differs
    assert cache.get().current_id == 2


def test_rotate_check_key_command(tmp_path, monkeypatch, capsys):
    import manage

    monkeypatch.setenv("TESSERA_DATA_DIR", str(tmp_path))
    assert manage.main(["rotate-check-key"]) == 0
    assert "New check key 2" in capsys.readouterr().out
    monkeypatch.delenv("DATABASE_URL", raising=False)  # the data dir's own: none yet
    assert manage.main(["rotate-check-key", "--retire", "1"]) == 0
    assert keyring.load_or_create(tmp_path).keys[1].retired
    # A data dir without a register: nothing to mark, said plainly, and no database made.
    retired = capsys.readouterr()
    assert "No register yet" in retired.out and not retired.err
    assert not (tmp_path / "tessera.sqlite3").exists()
    assert manage.main(["rotate-check-key", "--retire", "2"]) == 2  # the current key
    assert "cannot be retired" in capsys.readouterr().err
    # Both at once was --retire alone, silently: the operator meant every earlier key.
    assert manage.main(["rotate-check-key", "--retire", "1", "--retire-previous"]) == 2
    assert "Nothing was changed" in capsys.readouterr().err
    assert keyring.load_or_create(tmp_path).current_id == 2


async def test_the_code_a_card_carries_is_trusted_as_stored_and_nothing_else(ring, tmp_path):
    """The live check trusts the member's stored card code by comparison; every other
    text still has to carry the server's own signature."""
    code = codes.mobile_code(ring, PUBLIC_ID, NOW)
    known = lookup_of(facts(known_code=code))
    assert (await decide(code, ring, known, NOW)).result.key == "ok"

    raw = bytearray(b64d(code))
    raw[-1] ^= 0x01  # one bit of the signature
    assert (await decide(b64e(bytes(raw)), ring, known, NOW)).result.key == "unknown"
    raw = bytearray(b64d(code))
    raw[-66] ^= 0x01  # one bit of valid-until: a longer-lived code, same signature
    assert (await decide(b64e(bytes(raw)), ring, known, NOW)).result.key == "unknown"
    forged = codes.mobile_code(keyring.load_or_create(tmp_path / "thief"), PUBLIC_ID, NOW)
    assert (await decide(forged, ring, known, NOW)).result.key == "unknown"

    # An older code of this member (not the one stored) is still checked by signature.
    earlier = codes.mobile_code(ring, PUBLIC_ID, NOW - dt.timedelta(days=1))
    assert earlier != code
    assert (await decide(earlier, ring, known, NOW)).result.key == "ok"


async def test_a_stored_card_code_from_a_retired_key_is_revoked(tmp_path):
    old_code = codes.mobile_code(keyring.load_or_create(tmp_path), PUBLIC_ID, NOW)
    keyring.rotate(tmp_path)
    retired = keyring.retire(tmp_path, 1)
    verdict = await decide(old_code, retired, lookup_of(facts(known_code=old_code)), NOW)
    assert verdict.result.key == "revoked" and "retired" in verdict.reason
