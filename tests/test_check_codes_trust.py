"""``server.checks.codes.trust`` accepts a code exactly when its key's public key verifies it.

The server does not verify: it signs the code's payload again and compares (cheaper), and
falls back to verifying when the two differ. These properties hold the shortcut to the
definition over random payloads, flipped bits, keys of the ring claimed by codes another
key signed, keys outside the ring, retired keys, and genuine signatures made with another
nonce than the server's signer uses.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from server.checks import codes
from server.checks.keyring import CheckKey, Keyring, b64e
from tests import ed25519_nonce

CREATED = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _seed(name: str) -> bytes:
    return hashlib.sha256(f"tessera property-test key {name}".encode()).digest()


def _key(key_id: int, seed: bytes, retired: bool = False) -> CheckKey:
    private = Ed25519PrivateKey.from_private_bytes(seed)
    return CheckKey(key_id, private, private.public_key(), CREATED, CREATED if retired else None)


# Key 1 signed earlier codes, key 2 is current, key 3 is retired; "outsider" is no key of ours.
SEEDS = {1: _seed("1"), 2: _seed("2"), 3: _seed("3"), "outsider": _seed("outsider")}
RING = Keyring(2, {1: _key(1, SEEDS[1]), 2: _key(2, SEEDS[2]), 3: _key(3, SEEDS[3], True)})


def _message(key_id: int, public_id: bytes, issued: int, until: int) -> bytes:
    return (
        codes.HEADER.pack(codes.VERSION, key_id, len(public_id))
        + public_id
        + codes.TIMES.pack(issued, until)
    )


def _verifies(signed: codes.SignedCode) -> bool:
    """The definition: Ed25519 verification with the public key of the key the code names."""
    try:
        signed.key.public.verify(signed.signature, signed.message)
    except InvalidSignature:
        return False
    return True


@st.composite
def candidate_codes(draw: st.DrawFn) -> tuple[str, str | None]:
    """A code text (signed by some key, by some nonce or not at all, maybe with bits
    flipped) and the code the server stored for that member, if it made one."""
    claimed = draw(st.sampled_from(sorted(RING.keys)))
    signer = draw(st.sampled_from([claimed, claimed, *RING.keys, "outsider"]))
    public_id = draw(st.binary(min_size=1, max_size=codes.MAX_PUBLIC_ID))
    issued = draw(st.integers(0, 2**32 - 1))
    until = draw(st.integers(0, 2**32 - 1))
    message = _message(claimed, public_id, issued, until)
    how = draw(st.sampled_from(["server", "other nonce", "random"]))
    seed = SEEDS[signer]
    if how == "server":
        signature = Ed25519PrivateKey.from_private_bytes(seed).sign(message)
    elif how == "other nonce":
        signature = ed25519_nonce.sign(seed, message, draw(st.integers(1, ed25519_nonce.L - 1)))
    else:
        signature = draw(st.binary(min_size=64, max_size=64))
    raw = bytearray(message + signature)
    for bit in draw(st.lists(st.integers(0, 8 * len(raw) - 1), max_size=3)):
        raw[bit // 8] ^= 1 << (bit % 8)
    stored = RING.keys[claimed].private.sign(message) if signer == claimed else None
    known = b64e(message + stored) if stored is not None and draw(st.booleans()) else None
    return b64e(bytes(raw)), known


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(candidate_codes())
def test_trust_accepts_exactly_what_the_public_key_verifies(candidate: tuple[str, str | None]):
    text, known = candidate
    try:
        signed = codes.parse(text, RING)
    except codes.CodeRejected:
        reject()  # a flipped header bit: not a code of any key of ours
    genuine = _verifies(signed)
    try:
        code = codes.trust(signed, known)
    except codes.CodeRejected as rejected:
        assert rejected.result == ("revoked" if genuine else "unknown"), rejected.reason
        assert not genuine or signed.key.retired
    else:
        assert genuine and not signed.key.retired
        assert code == signed.code


def test_a_genuine_signature_with_another_nonce_is_trusted_as_the_scanner_trusts_it():
    """The scanner verifies with the public key, so the live check must accept what it does."""
    message = _message(2, bytes.fromhex("0123456789abcdef"), 1_800_000_000, 1_800_259_200)
    server_made = RING.current.private.sign(message)
    other = ed25519_nonce.sign(SEEDS[2], message, nonce=2**200 + 12345)
    assert other != server_made
    RING.current.public.verify(other, message)  # genuine
    code = codes.read(b64e(message + other), RING)
    assert code.public_id == "0123456789abcdef" and code.key_id == 2


def test_the_nonce_helper_makes_the_signature_the_server_makes():
    message = _message(1, b"\x01", 0, 1)
    nonce = ed25519_nonce.deterministic_nonce(SEEDS[1], message)
    assert ed25519_nonce.sign(SEEDS[1], message, nonce) == RING.keys[1].private.sign(message)


@pytest.mark.parametrize("extra", ["=", "==", "+", "/", ".", " "])
def test_only_base64url_text_is_a_code(extra: str):
    """``b64decode`` would skip characters outside the alphabet and accept padding; the
    scanner refuses both, and so does the server."""
    message = _message(2, bytes.fromhex("0123456789abcdef"), 1_800_000_000, 1_800_259_200)
    text = b64e(message + RING.current.private.sign(message))
    assert codes.read(text, RING).key_id == 2
    for variant in (text + extra, text[:40] + extra * 4 + text[40:]):
        with pytest.raises(codes.CodeRejected) as rejected:
            codes.read(variant, RING)
        assert rejected.value.result == "unknown"
