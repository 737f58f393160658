"""One clock: the card, the live check and the pages judge dates by the organisation's
time zone (the ``time_zone`` app setting), not by the server's or UTC's date."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from server import clock
from server.settings.store import set_setting
from tests.card_fixtures import issued_token
from tests.check_fixtures import code_for, make_verified

AHEAD, BEHIND = "Pacific/Kiritimati", "Pacific/Pago_Pago"  # UTC+14 and UTC−11


def _zone_on_another_day() -> tuple[str, dt.date]:
    """A zone whose date differs from UTC's right now, and that date (one always does)."""
    now = dt.datetime.now(dt.UTC)
    for name in (AHEAD, BEHIND):
        local = now.astimezone(ZoneInfo(name)).date()
        if local != now.date():
            return name, local
    raise AssertionError("unreachable: +14 and −11 cannot both share UTC's date")


async def test_card_and_check_agree_on_expiry_by_the_organisations_date(app, client, db, settings):
    zone, local_today = _zone_on_another_day()
    utc_today = dt.datetime.now(dt.UTC).date()
    # Expires on the earlier of the two dates: expired where that day is over.
    expires = min(local_today, utc_today)
    member = await make_verified(db, membership_expires_on=expires)
    token = await issued_token(db, settings, member)
    await set_setting(db, "time_zone", zone, None)
    await db.commit()
    expired_there = expires < local_today
    card = (await client.get(f"/card/{token}.json")).json()
    assert card["membership"]["expired"] is expired_there
    check = await client.get(
        f"/check/{code_for(app, member)}", headers={"Accept": "application/json"}
    )
    assert (check.json()["result"] == "membership_expired") is expired_there
    # And the other way round in UTC: the two agree there too.
    await set_setting(db, "time_zone", "UTC", None)
    await db.commit()
    card = (await client.get(f"/card/{token}.json")).json()
    check = await client.get(
        f"/check/{code_for(app, member)}", headers={"Accept": "application/json"}
    )
    assert card["membership"]["expired"] is (expires < utc_today)
    assert (check.json()["result"] == "membership_expired") is (expires < utc_today)


def test_the_organisations_midnight_is_where_its_day_begins():
    site = {"time_zone": "Europe/Berlin"}
    start = clock.day_start(site, dt.date(2026, 7, 1))
    assert start == dt.datetime(2026, 6, 30, 22, 0, tzinfo=dt.UTC)  # CEST is UTC+2
    assert clock.today(site, start) == dt.date(2026, 7, 1)
    assert clock.today(site, start - dt.timedelta(seconds=1)) == dt.date(2026, 6, 30)


@pytest.mark.parametrize("name", ["Mars/Olympus_Mons", "UTC+2", "../../etc/passwd"])
def test_an_unknown_zone_is_refused_with_the_reason(name):
    from server.settings.registry import SettingError, get_definition

    with pytest.raises(SettingError, match="not a known IANA time zone"):
        get_definition("time_zone").parse(name)


async def test_the_card_and_the_marshal_read_code_times_on_the_organisations_clock(
    client, db, settings
):
    """A Berlin organisation's card says its code is valid "until … 00:00 CET", not
    "23:00 UTC" the evening before; the marshal's check page gives the code's issue and
    expiry times on the same clock."""
    from urllib.parse import urlsplit

    from tests.factories import login, make_staff

    await set_setting(db, "time_zone", "Europe/Berlin", None)
    member = await make_verified(db, sca_name="Berthold")
    marshal = await make_staff(db, ["check_cards"])
    token = await issued_token(db, settings, member)
    await db.commit()
    check = (await client.get(f"/card/{token}.json")).json()["check"]
    until = dt.datetime.fromisoformat(check["valid_until"])
    local = until.astimezone(ZoneInfo("Europe/Berlin"))
    assert (local.hour, local.minute) == (0, 0)  # the organisation's midnight, 72 h on
    zone = local.tzname()
    assert check["caption"].endswith(f"Code valid until {local:%Y-%m-%d} 00:00 {zone}.")
    await login(client, marshal.email)
    page = (await client.get(urlsplit(check["url"]).path)).text
    assert f'<span class="date">{local:%Y-%m-%d} 00:00 {zone}</span>' in page
    assert "UTC" not in page
