"""The organisation's clock: one "today" for cards, checks, sections, expiry and nightly jobs.

The ``time_zone`` app setting (an IANA name, default UTC) says where the organisation's
days begin; a membership that "expires on" a date is current until that date's local
midnight passes, on the card and at the check alike.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_ZONE = "UTC"
# IANA names: "Europe/Berlin", "America/Argentina/Buenos_Aires", "Etc/GMT+5" (at most 30
# characters today; the limit leaves room).
ZONE_NAME = re.compile(r"[A-Za-z0-9_+\-]{1,40}(/[A-Za-z0-9_+\-]{1,40}){0,3}")


@functools.cache
def zone(name: str) -> ZoneInfo:
    """The zone called ``name``; UTC when it is unknown (the setting is validated on save)."""
    try:
        return ZoneInfo(name or DEFAULT_ZONE)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_ZONE)


def zone_of(site: Mapping[str, Any]) -> ZoneInfo:
    return zone(str(site.get("time_zone") or DEFAULT_ZONE))


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def today(site: Mapping[str, Any], moment: dt.datetime | None = None) -> dt.date:
    """The organisation's date at ``moment`` (now by default)."""
    return (moment or now()).astimezone(zone_of(site)).date()


def day_start(site: Mapping[str, Any], day: dt.date) -> dt.datetime:
    """The organisation's midnight that begins ``day``, in UTC."""
    local = dt.datetime.combine(day, dt.time(), zone_of(site))
    return local.astimezone(dt.UTC)


def next_midnight(site: Mapping[str, Any], day: dt.date) -> dt.datetime:
    """When the day after ``day`` begins for the organisation, in UTC."""
    return day_start(site, day + dt.timedelta(days=1))


def last_second(site: Mapping[str, Any], day: dt.date) -> dt.datetime:
    """The last second of the organisation's ``day``, in UTC: until when something that
    "expires on" ``day`` (a membership, the printed card's code for it) is current."""
    return next_midnight(site, day) - dt.timedelta(seconds=1)


@functools.lru_cache(maxsize=512)
def stamp(zone_name: str, moment: dt.datetime) -> str:
    """``moment`` as the organisation's wall clock shows it: "2026-12-04 00:00 CET".

    Remembered: the marshal's check shows each code's issue and expiry time, and a day's
    mobile codes share both (the organisation's midnight, 72 h later)."""
    return moment.astimezone(zone(zone_name)).strftime("%Y-%m-%d %H:%M %Z")


def is_zone_name(name: str) -> bool:
    """Whether this machine knows ``name`` as an IANA time zone.

    ``ZoneInfo`` looks the name up as a file: a name longer than a file name may be raised
    ``OSError`` (a 500 on the settings page), so only names shaped like IANA's get there."""
    if not ZONE_NAME.fullmatch(name):
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True
