"""Drawing check URLs as QR codes (segno) for the printed auth card.

(The mobile card draws its own QR in the browser, ``pwa/card.js``.) Encoding costs a
few milliseconds in pure Python, so results are kept per URL: a member's printed code
is the same all hour (hour-bucketed, deterministic signature), so reprinted cards
within the hour reuse the drawing. A fixed mask saves most of the time (every mask is
valid QR; the tests decode the output).
"""

from __future__ import annotations

import functools

import segno


@functools.lru_cache(maxsize=4096)
def _qr(url: str) -> segno.QRCode:
    return segno.make(url, error="m", mask=0, boost_error=False, micro=False)


@functools.lru_cache(maxsize=4096)
def svg_inline(url: str) -> str:
    """Inline ``<svg>`` markup that scales to its box (the printed auth card)."""
    return _qr(url).svg_inline(scale=2, border=2, omitsize=True, svgclass="check-qr")
