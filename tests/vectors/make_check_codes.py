"""Make ``tests/vectors/check_codes.json``: check codes and the answer each must get.

    python -m tests.vectors.make_check_codes      # from the repository root

The live check (``server.checks.decide``) and the offline scanner's own JavaScript
(``static/scan/scanner.js``, ``decideBySignature``) must both give every code its
``result``, for a member in good standing who is not in the revocation list:
``tests/test_check_code_vectors.py`` holds the first to it, and drives the second in
Chromium. The file carries its keyring in the server's ``check_keys.json`` format, so
the tests can install it: these are TEST KEYS, derived from their names, public in this
repository, never to be used for anything else. Keys and nonces are fixed and Ed25519
signing is deterministic, so the file changes only when this script does (a test checks
that the committed file is what the script makes).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from server.checks import codes
from server.checks.keyring import CheckKey, Keyring, b64d, b64e
from tests import ed25519_nonce

PATH = Path(__file__).with_name("check_codes.json")
CREATED = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
RETIRED = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
ISSUED = 1_767_225_600  # 2026-01-01 00:00 UTC
UNTIL = 4_000_000_000  # 2096-10-02: "current" for as long as these tests run
EXPIRED = (1_577_836_800, 1_580_428_800)  # January 2020
PUBLIC_ID = bytes.fromhex("5d1c0e7aa3b94f2c8e61d07b9a4c3f18")  # 16 bytes, as members have


def _seed(name: str) -> bytes:
    return hashlib.sha256(f"tessera check-code test vector key {name}".encode()).digest()


SEEDS = {1: _seed("1"), 2: _seed("2"), 3: _seed("3"), "outsider": _seed("outsider")}


def keyring() -> Keyring:
    """Key 1 signed earlier codes and still counts, key 2 is current, key 3 is retired."""

    def key(key_id: int, retired_at: dt.datetime | None = None) -> CheckKey:
        private = Ed25519PrivateKey.from_private_bytes(SEEDS[key_id])
        return CheckKey(key_id, private, private.public_key(), CREATED, retired_at)

    return Keyring(2, {1: key(1), 2: key(2), 3: key(3, RETIRED)})


def _message(
    key_id: int,
    public_id: bytes = PUBLIC_ID,
    times: tuple[int, int] = (ISSUED, UNTIL),
    *,
    version: int = codes.VERSION,
    id_length: int | None = None,
) -> bytes:
    length = len(public_id) if id_length is None else id_length
    return codes.HEADER.pack(version, key_id, length) + public_id + codes.TIMES.pack(*times)


def _signed(message: bytes, signer: int | str, nonce: int | None = None) -> bytes:
    seed = SEEDS[signer]
    if nonce is not None:
        return message + ed25519_nonce.sign(seed, message, nonce)
    return message + Ed25519PrivateKey.from_private_bytes(seed).sign(message)


def _flip(raw: bytes, bit: int) -> bytes:
    changed = bytearray(raw)
    changed[bit // 8] ^= 1 << (7 - bit % 8)
    return bytes(changed)


def _times_offset(public_id: bytes = PUBLIC_ID) -> int:
    return codes.HEADER.size + len(public_id)


def vectors() -> list[tuple[str, str, str]]:
    """(name, code text, result) for every case."""
    genuine = _signed(_message(2), 2)
    text = b64e(genuine)
    signature_at = len(genuine) - codes.SIGNATURE_SIZE
    until_at = _times_offset() + 4
    later = _flip(genuine, 8 * until_at + 3)  # 0xEE6B2800 → 0xFE6B2800
    assert later[until_at : until_at + 4] > genuine[until_at : until_at + 4]
    # The last character of a 92-byte code carries 2 bits the decoders ignore.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    loose_tail = text[:-1] + alphabet[alphabet.index(text[-1]) ^ 1]
    assert b64d(loose_tail) == genuine and loose_tail != text
    assert "-" in text or "_" in text
    non_canonical_s = int.from_bytes(genuine[-32:], "little") + ed25519_nonce.L
    found: list[tuple[str, bytes | str, str]] = [
        ("genuine: current key", genuine, "ok"),
        ("genuine: an earlier key, not retired", _signed(_message(1), 1), "ok"),
        ("genuine: shortest public id (1 byte)", _signed(_message(2, b"\x07"), 2), "ok"),
        ("genuine: longest public id (32 bytes)", _signed(_message(2, bytes(range(32))), 2), "ok"),
        ("genuine: signed with another nonce", _signed(_message(2), 2, nonce=2**250 + 99), "ok"),
        ("genuine: the same bytes with other unused trailing bits", loose_tail, "ok"),
        ("genuine: expired in 2020", _signed(_message(2, times=EXPIRED), 2), "code_expired"),
        ("genuine: retired key", _signed(_message(3), 3), "revoked"),
        ("genuine: retired key, also expired", _signed(_message(3, times=EXPIRED), 3), "revoked"),
        ("altered: first bit of the signature", _flip(genuine, 8 * signature_at), "unknown"),
        ("altered: last bit of the signature", _flip(genuine, 8 * len(genuine) - 1), "unknown"),
        ("altered: one bit of the public id", _flip(genuine, 8 * codes.HEADER.size + 5), "unknown"),
        ("altered: issued one second off", _flip(genuine, 8 * _times_offset() + 31), "unknown"),
        ("altered: valid until moved later", later, "unknown"),
        (
            "altered: signature S + L (the same, not canonical)",
            genuine[:-32] + non_canonical_s.to_bytes(32, "little"),
            "unknown",
        ),
        ("forged: signature all zeros", genuine[:signature_at] + bytes(64), "unknown"),
        (
            "forged: signature of random bytes",
            genuine[:signature_at] + hashlib.sha512(b"random").digest(),
            "unknown",
        ),
        (
            "forged: signed by a key outside the ring, naming the current key",
            _signed(_message(2), "outsider"),
            "unknown",
        ),
        (
            "forged: signed by the current key, naming the earlier key",
            _signed(_message(1), 2),
            "unknown",
        ),
        (
            "forged: signed by the current key, naming the retired key",
            _signed(_message(3), 2),
            "unknown",
        ),
        (
            "forged: signed by the retired key, naming the current key",
            _signed(_message(2), 3),
            "unknown",
        ),
        ("malformed: a key id the ring does not have", _signed(_message(9), 2), "unknown"),
        ("malformed: version 2", _signed(_message(2, version=2), 2), "unknown"),
        ("malformed: public id length 0", _signed(_message(2, b"", id_length=0), 2), "unknown"),
        ("malformed: public id length 33", _signed(_message(2, bytes(33)), 2), "unknown"),
        (
            "malformed: id length says 15, 16 bytes follow",
            _signed(_message(2, id_length=15), 2),
            "unknown",
        ),
        ("malformed: one byte short", genuine[:-1], "unknown"),
        ("malformed: one byte too many", genuine + b"\x00", "unknown"),
        ("malformed: base64 padding added", text + "=", "unknown"),
        (
            "malformed: '+' and '/' instead of '-' and '_'",
            text.replace("-", "+").replace("_", "/"),
            "unknown",
        ),
        (
            "malformed: a character outside base64url inside",
            text[:40] + "...." + text[40:],
            "unknown",
        ),
        ("malformed: too long (201 characters)", (text * 2)[:201], "unknown"),
    ]
    return [
        (name, code if isinstance(code, str) else b64e(code), result)
        for name, code, result in found
    ]


def render() -> str:
    document = {
        "about": (
            "Check codes and the answer the live check and the offline scanner must give "
            "each (a member in good standing, not revoked). Made by "
            "tests/vectors/make_check_codes.py: do not edit. TEST KEYS ONLY."
        ),
        "check_keys": json.loads(keyring().to_json()),
        "codes": [{"name": n, "code": c, "result": r} for n, c, r in vectors()],
    }
    return json.dumps(document, indent=2) + "\n"


if __name__ == "__main__":
    PATH.write_text(render())
    print(f"wrote {len(vectors())} codes to {PATH}")
