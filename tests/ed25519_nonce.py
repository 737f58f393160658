"""Ed25519 signatures with a chosen nonce, in the arithmetic of RFC 8032 (section 5.1).

The signer this project uses (``cryptography``) derives the nonce from the key and the
message, so it always makes the same signature. Ed25519 verification accepts any nonce:
whoever holds the private key can make many genuine signatures of one message. Tests use
this to make genuine signatures that this server's signer never makes. Slow (pure Python,
a few milliseconds each) and for tests only.
"""

from __future__ import annotations

import hashlib

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493  # the order of the base point
D = -121665 * pow(121666, -1, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)

Point = tuple[int, int, int, int]  # extended coordinates (X, Y, Z, T)


def _add(p: Point, q: Point) -> Point:
    a = (p[1] - p[0]) * (q[1] - q[0]) % P
    b = (p[1] + p[0]) * (q[1] + q[0]) % P
    c = 2 * p[3] * q[3] * D % P
    d = 2 * p[2] * q[2] % P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def _multiply(scalar: int, point: Point) -> Point:
    result: Point = (0, 1, 1, 0)
    while scalar:
        if scalar & 1:
            result = _add(result, point)
        point = _add(point, point)
        scalar >>= 1
    return result


def _encode(point: Point) -> bytes:
    z_inverse = pow(point[2], P - 2, P)
    x, y = point[0] * z_inverse % P, point[1] * z_inverse % P
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


def _base_point() -> Point:
    y = 4 * pow(5, -1, P) % P
    x2 = (y * y - 1) * pow(D * y * y + 1, -1, P) % P
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P:
        x = x * SQRT_M1 % P
    if x & 1:
        x = P - x
    return (x, y, 1, x * y % P)


BASE = _base_point()


def _expand(seed: bytes) -> tuple[int, bytes]:
    digest = hashlib.sha512(seed).digest()
    scalar = int.from_bytes(digest[:32], "little")
    scalar &= (1 << 254) - 8
    scalar |= 1 << 254
    return scalar, digest[32:]


def _hash(*parts: bytes) -> int:
    return int.from_bytes(hashlib.sha512(b"".join(parts)).digest(), "little") % L


def deterministic_nonce(seed: bytes, message: bytes) -> int:
    """The nonce RFC 8032 (and so ``cryptography``) uses: the same signature every time."""
    return _hash(_expand(seed)[1], message)


def sign(seed: bytes, message: bytes, nonce: int) -> bytes:
    """The Ed25519 signature of ``message`` by the key with this 32-byte ``seed``, made
    with ``nonce`` (any integer not divisible by L gives a genuine signature)."""
    scalar, _ = _expand(seed)
    public = _encode(_multiply(scalar, BASE))
    r = _encode(_multiply(nonce % L, BASE))
    s = (nonce + _hash(r, public, message) * scalar) % L
    return r + s.to_bytes(32, "little")
