"""The check code: a compact, signed statement "member X, issued at T, valid until U".

Layout (big-endian), then base64url without padding::

    version (1 byte) | key id (2) | public id length (1) | public id (n) |
    issued at (4, Unix seconds) | valid until (4, Unix seconds) | Ed25519 signature (64)

The signature covers every byte before it. A code names the member only by
``Member.public_id``; it never contains or reveals the card token. Ed25519 signatures
are deterministic, so the same member, key and times always give the same code (the
mobile card's ETag stays stable within a day).

Because of that, the server — which holds every private key it ever signed with —
checks a code by signing its payload again and comparing the two signatures in
constant time: for every code it made that costs a third of a verification (signing is
one fixed-base scalar multiplication, verifying needs two), and the live check is the
hot path. Only when the two differ does it verify the signature with the public key, as
offline scanners (which have only the public keys) always do: Ed25519 has more than one
genuine signature per key and message (any nonce works), so comparing alone would refuse
a genuine one made with another nonce that the scanner accepts. The server and the
scanner accept exactly the same codes (``tests/test_check_codes_trust.py``,
``tests/vectors/``).
"""

from __future__ import annotations

import binascii
import datetime as dt
import hmac
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature

from server import clock
from server.checks.keyring import CheckKey, Keyring, b64d, b64e

VERSION = 1
SIGNATURE_SIZE = 64
HEADER = struct.Struct(">BHB")
TIMES = struct.Struct(">II")
MAX_PUBLIC_ID = 32
MAX_CODE_CHARS = 200  # anything longer is not ours; refuse before decoding
# base64url without padding; ``b64d`` alone would skip other characters and accept "=".
CODE_TEXT = re.compile(r"[A-Za-z0-9_-]+")
MOBILE_VALIDITY = dt.timedelta(hours=72)
PRINTED_MAX_VALIDITY = dt.timedelta(days=365)
PRINTED_MIN_VALIDITY = dt.timedelta(days=30)


@dataclass(frozen=True)
class CheckCode:
    key_id: int
    public_id: str
    issued_at: dt.datetime
    valid_until: dt.datetime

    def expired(self, now: dt.datetime) -> bool:
        return now > self.valid_until


class CodeRejected(Exception):
    """The code cannot be trusted; ``result`` is a key of ``server.checks.results``."""

    def __init__(self, result: str, reason: str, key_id: int | None = None) -> None:
        super().__init__(reason)
        self.result = result
        self.reason = reason
        self.key_id = key_id


def _seconds(moment: dt.datetime) -> int:
    return int(moment.timestamp())


def _moment(seconds: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC)


def sign(key: CheckKey, public_id: str, issued_at: dt.datetime, valid_until: dt.datetime) -> str:
    """Make a code. ``public_id`` must be hex (``Member.public_id`` always is)."""
    raw_id = bytes.fromhex(public_id)
    if not 0 < len(raw_id) <= MAX_PUBLIC_ID:
        raise ValueError("public id has the wrong length")
    if valid_until <= issued_at:
        raise ValueError("a code must be valid after it is issued")
    message = (
        HEADER.pack(VERSION, key.key_id, len(raw_id))
        + raw_id
        + TIMES.pack(_seconds(issued_at), _seconds(valid_until))
    )
    return b64e(message + key.private.sign(message))


@dataclass(frozen=True)
class SignedCode:
    """A well-formed code whose key this server has, not yet trusted."""

    text: str
    key: CheckKey
    message: bytes
    signature: bytes
    code: CheckCode


def key_prefix(key_id: int) -> str:
    """The first characters of every code this key signs (version and key id encode to
    exactly four base64 characters): finds a key's codes with one string comparison."""
    return b64e(HEADER.pack(VERSION, key_id, 0)[:3])


def parse(text: str, keyring: Keyring) -> SignedCode:
    """Decode ``text`` and find its key; raise ``CodeRejected`` if it is not a code of ours.

    Nothing here is trusted yet: ``trust`` checks the signature.
    """
    if not text or len(text) > MAX_CODE_CHARS or not CODE_TEXT.fullmatch(text):
        raise CodeRejected("unknown", "This is not a Tessera check code.")
    try:
        raw = b64d(text)
    except (binascii.Error, ValueError):
        raise CodeRejected("unknown", "This is not a Tessera check code.") from None
    if len(raw) < HEADER.size + TIMES.size + SIGNATURE_SIZE:
        raise CodeRejected("unknown", "This is not a Tessera check code.")
    version, key_id, id_length = HEADER.unpack_from(raw)
    if version != VERSION:
        raise CodeRejected("unknown", "This code was made by an unknown version of Tessera.")
    body_length = HEADER.size + id_length + TIMES.size
    if len(raw) != body_length + SIGNATURE_SIZE or not 0 < id_length <= MAX_PUBLIC_ID:
        raise CodeRejected("unknown", "This is not a Tessera check code.")
    key = keyring.keys.get(key_id)
    if key is None:
        raise CodeRejected("unknown", "This code was signed by a key this server does not know.")
    public_id = raw[HEADER.size : HEADER.size + id_length].hex()
    issued, until = TIMES.unpack_from(raw, HEADER.size + id_length)
    code = CheckCode(key_id, public_id, _moment(issued), _moment(until))
    return SignedCode(text, key, raw[:body_length], raw[body_length:], code)


def times(text: str) -> tuple[int, int] | None:
    """A code's issued-at and valid-until (Unix seconds) as written in it, unverified:
    for codes this server stored itself (the revocation list's voided pass codes)."""
    try:
        raw = b64d(text)
        id_length = HEADER.unpack_from(raw)[2]
        issued, until = TIMES.unpack_from(raw, HEADER.size + id_length)
    except (binascii.Error, ValueError, struct.error):
        return None
    return int(issued), int(until)


def trust(signed: SignedCode, known: str | None = None) -> CheckCode:
    """The code, if its key's public key verifies its signature and the key is not
    retired; else ``CodeRejected``.

    ``known`` is a code this server stored when it made it (the member's current
    mobile code): the same text is the same signature, and no signing is needed.
    Otherwise the signature this server would make is compared first (cheaper than
    verifying, and what every code it made carries); only another signature is verified.
    """
    same_as_known = known is not None and hmac.compare_digest(known.encode(), signed.text.encode())
    if (
        not same_as_known
        and not hmac.compare_digest(signed.key.private.sign(signed.message), signed.signature)
        and not _verifies(signed)
    ):
        raise CodeRejected(
            "unknown",
            "The signature does not match: the code was altered or forged.",
            signed.key.key_id,
        )
    if signed.key.retired:
        raise CodeRejected(
            "revoked",
            "The key that signed this code has been retired; issue a new card.",
            signed.key.key_id,
        )
    return signed.code


def _verifies(signed: SignedCode) -> bool:
    try:
        signed.key.public.verify(signed.signature, signed.message)
    except InvalidSignature:
        return False
    return True


def read(text: str, keyring: Keyring) -> CheckCode:
    """Decode and verify ``text``; raise ``CodeRejected`` if it cannot be trusted.

    Expiry is not judged here: an expired code still says who it was for, which the
    check log records.
    """
    return trust(parse(text, keyring))


def hour_floor(moment: dt.datetime) -> dt.datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def day_floor(moment: dt.datetime) -> dt.datetime:
    """The start of ``moment``'s UTC day."""
    return moment.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _after_revocation(issued: dt.datetime, revoked_before: dt.datetime | None) -> dt.datetime:
    """A code made after a revocation must not fall inside the revoked range."""
    if revoked_before is not None and issued < revoked_before:
        issued = revoked_before.replace(microsecond=0) + dt.timedelta(seconds=1)
    return issued


def issue_time(now: dt.datetime, revoked_before: dt.datetime | None = None) -> dt.datetime:
    """The start of this hour, or just after the member's last revocation if later.

    The printed card's codes: the same member printed twice within an hour gets the
    same code.
    """
    return _after_revocation(hour_floor(now), revoked_before)


def mobile_issue_time(
    now: dt.datetime,
    revoked_before: dt.datetime | None = None,
    day_start: dt.datetime | None = None,
) -> dt.datetime:
    """The start of this day (``day_start``: the organisation's midnight; the UTC day by
    default), or just after the member's last revocation if later.

    One code per day keeps a card's payload (and its ETag) unchanged between refreshes
    all day: the card is rebuilt when its facts change or the day does, not every hour.
    """
    return _after_revocation(day_start or day_floor(now), revoked_before)


def mobile_code(
    keyring: Keyring,
    public_id: str,
    now: dt.datetime,
    revoked_before: dt.datetime | None = None,
    day_start: dt.datetime | None = None,
) -> str:
    """The mobile card's code: issued per day, valid 72 hours from its issue time.

    The card's payload is rebuilt when the organisation's day ends, so a card saved on
    a phone carries a code that stays valid offline for 48 to 72 more hours.
    """
    issued = mobile_issue_time(now, revoked_before, day_start)
    return sign(keyring.current, public_id, issued, issued + MOBILE_VALIDITY)


def printed_valid_until(
    issued: dt.datetime, membership_expires_on: dt.date | None, site: Mapping[str, Any]
) -> dt.datetime:
    """Until when a printed card's code made at ``issued`` lives: the end of the
    membership's last day where the organisation is (``time_zone``), at most a year.

    Without a current membership the code still lives ``PRINTED_MIN_VALIDITY`` (the live
    check then answers "unverified" or "expired", which is the honest answer).
    """
    until = issued + PRINTED_MIN_VALIDITY
    if membership_expires_on is not None:
        until = max(until, clock.last_second(site, membership_expires_on))
    return min(until, issued + PRINTED_MAX_VALIDITY)


def printed_code(
    keyring: Keyring,
    public_id: str,
    now: dt.datetime,
    membership_expires_on: dt.date | None,
    revoked_before: dt.datetime | None = None,
    site: Mapping[str, Any] | None = None,
) -> str:
    """The printed auth card's code: valid until the membership expires (``site``: the
    app settings, for the organisation's time zone; UTC without them)."""
    issued = issue_time(now, revoked_before)
    until = printed_valid_until(issued, membership_expires_on, site or {})
    return sign(keyring.current, public_id, issued, until)


def check_url(base_url: str, code: str) -> str:
    return f"{base_url.rstrip('/')}/check/{code}"
