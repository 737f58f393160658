"""Dates of an authorization: when it expires and whether it is current."""

from __future__ import annotations

import calendar
import datetime as dt


def add_months(start: dt.date, months: int) -> dt.date:
    """``start`` plus whole months, clamped to the month's last day (Jan 31 + 1 → Feb 28)."""
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def expiry_for(start: dt.date, term_months: int | None) -> dt.date | None:
    """Expiry = start + term; None (no expiry) for activities without a term."""
    return None if term_months is None else add_months(start, term_months)


def is_current(expires_on: dt.date | None, today: dt.date) -> bool:
    """An approved authorization is valid through its expiry date."""
    return expires_on is None or expires_on >= today
