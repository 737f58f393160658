"""Dates that never break at their hyphens when a line wraps.

Chromium breaks ``2027-05-01`` after a hyphen on a narrow screen, leaving ``2027-`` on
one line and ``05-01`` on the next. ``nobreak_dates`` escapes a text and wraps every ISO
date in it (with a time, if one follows) in ``<span class="date">``, which the
stylesheets keep on one line.
"""

from __future__ import annotations

import functools
import re

from markupsafe import Markup, escape

# A date, its time and the time's zone ("UTC", "CET", "+04") when they follow.
DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?: \d{2}:\d{2}(?: (?:[A-Z]{2,5}|[+-]\d{2,4}))?)?")


@functools.lru_cache(maxsize=4096)  # the check page's reasons repeat ("… until 2027-05-01.")
def nobreak_dates(text: str | None) -> Markup:
    """``text`` escaped, its dates kept whole: ``<span class="date">2027-05-01</span>``."""
    escaped = str(escape("" if text is None else text))
    return Markup(DATE.sub(r'<span class="date">\g<0></span>', escaped))
