"""How wide a text prints on the auth card, and so on how many lines it wraps.

The widths are DejaVu Sans's advances (the print stylesheet's first font, and a wide
one: text in a narrower fallback only takes less room). A text never gets cut off on
the card: long lines wrap, and ``back_panels`` counts the wrapped lines with these
estimates so each panel gets no more than it holds. If a browser's font is wider still,
the print script shrinks that panel's type until everything fits.
"""

from __future__ import annotations

import math
import unicodedata

MM_PER_PT = 25.4 / 72
# Advance widths of DejaVu Sans (Book) in thousandths of an em, for " " (32) to "~" (126).
ASCII_WIDTHS = (
    318, 401, 460, 838, 636, 950, 780, 275, 390, 390, 500, 838, 318, 361, 318, 337,
    636, 636, 636, 636, 636, 636, 636, 636, 636, 636, 337, 337, 838, 838, 838, 531,
    1000, 684, 686, 698, 770, 632, 575, 775, 752, 295, 295, 656, 557, 863, 748, 787,
    603, 787, 695, 635, 611, 732, 684, 989, 685, 611, 685, 390, 337, 390, 838, 500,
    500, 613, 635, 550, 635, 615, 352, 635, 634, 278, 278, 579, 278, 974, 634, 612,
    635, 635, 411, 521, 392, 634, 592, 818, 592, 592, 525, 636, 337, 636, 838,
)  # fmt: skip
WIDE = 1000  # anything else: as wide as an em dash or "Æ"
BOLD = 1.14  # DejaVu Sans Bold is about 10 % wider (up to 26 % for a few narrow letters)
SAFETY = 1.0  # of the measured width a line holds (kerning makes real text ~1.5 % narrower)


def _thousandths(char: str) -> int:
    code = ord(char)
    if 32 <= code <= 126:
        return ASCII_WIDTHS[code - 32]
    base = unicodedata.normalize("NFD", char)[0]  # "ū" is as wide as "u"
    if base != char and 32 <= ord(base) <= 126:
        return ASCII_WIDTHS[ord(base) - 32]
    return WIDE


def width_mm(text: str, size_pt: float, bold: bool = False) -> float:
    """The printed width of ``text`` on one line."""
    ems = sum(_thousandths(c) for c in text) / 1000
    return ems * size_pt * MM_PER_PT * (BOLD if bold else 1.0)


def lines(text: str, size_pt: float, available_mm: float, bold: bool = False) -> int:
    """How many lines ``text`` takes when it wraps in ``available_mm`` (at least one).

    Word by word, as the browser breaks it; a word longer than a line is broken
    inside (the stylesheet allows that rather than letting it stick out).
    """
    room = available_mm * SAFETY
    space = width_mm(" ", size_pt, bold)
    count, used = 1, 0.0
    for word in text.split():
        wide = width_mm(word, size_pt, bold)
        if used and used + space + wide <= room:
            used += space + wide
            continue
        if used:
            count += 1
        count += max(0, math.ceil(wide / room) - 1)
        used = wide - room * max(0, math.ceil(wide / room) - 1)
    return count
