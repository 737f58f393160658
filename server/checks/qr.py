"""Drawing check URLs as QR codes (segno), for the mobile card and the printed auth card.

Encoding costs a few milliseconds in pure Python, so results are kept per URL: a
card's code is the same all hour (hour-bucketed, deterministic signature), so rebuilt
payloads and reprinted cards within the hour reuse the drawing. A fixed mask saves
most of the time (every mask is valid QR; the tests decode the output).
"""

from __future__ import annotations

import functools

import segno


@functools.lru_cache(maxsize=4096)
def _qr(url: str) -> segno.QRCode:
    return segno.make(url, error="m", mask=0, boost_error=False, micro=False)


@functools.lru_cache(maxsize=4096)
def svg_data_uri(url: str) -> str:
    """For an ``<img src>`` (the mobile card draws it from its cached data, offline too)."""
    return _qr(url).svg_data_uri(scale=4, border=2, dark="#000", light="#fff")


@functools.lru_cache(maxsize=4096)
def svg_inline(url: str) -> str:
    """Inline ``<svg>`` markup that scales to its box (the printed auth card)."""
    return _qr(url).svg_inline(scale=2, border=2, omitsize=True, svgclass="check-qr")
