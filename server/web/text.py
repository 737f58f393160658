"""Text people will read: no invisible characters that change how other text shows.

Bidirectional controls (U+202A–202E, U+2066–2069) can make a name read backwards or
hide part of the page's text after it; other format characters (zero-width spaces, soft
hyphens, tag characters, the byte-order mark) make two names that look alike differ.
Characters that show as nothing at all (the Hangul fillers, the combining grapheme
joiner, Khmer's inherent vowels: Unicode's other "default ignorable" ones) make a name
look blank or like another, and the line and paragraph separators break a one-line name
in two. They are stripped from every text field read from a form, and from text settings.
The zero-width joiner and non-joiner stay (some scripts and emoji need them), as do the
variation selectors (emoji, CJK variants) and Mongolian's free variation selectors.
"""

from __future__ import annotations

import re

# Unicode's format characters (category Cf, Unicode 14) but for U+200C and U+200D; the
# other default-ignorable code points but for the variation selectors (U+180B–180D,
# U+180F, U+FE00–FE0F, U+E0100–E01EF); the line and paragraph separators; and the
# control characters (Cc) but for tab, line feed, carriage return and NUL.
INVISIBLE = re.compile(
    "[\u0001-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f"
    "\u00ad\u034f\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2"
    "\u115f\u1160\u17b4\u17b5\u180e"
    "\u200b\u200e\u200f\u2028-\u202e\u2060-\u206f\u3164"
    "\ufeff\uffa0\ufff0-\ufffb\U000110bd\U000110cd\U00013430-\U0001343f"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e00ff"
    "\U000e01f0-\U000e0fff]"
)


def visible_text(value: str) -> str:
    """``value`` without invisible format and control characters (NUL is refused elsewhere)."""
    return INVISIBLE.sub("", value)
