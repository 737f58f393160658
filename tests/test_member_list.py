"""The member register's list: sortable columns, filters that survive paging and sorting,
expired memberships flagged in words, and the audited CSV export (issue 15, item 2)."""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import re

from sqlalchemy import insert, select

from server.audit.models import AuditEntry
from server.cards.models import CardLink
from server.members.models import Member
from server.members.search import SORTS
from tests.factories import login, make_branch, make_member, make_staff

TODAY = dt.date.today()
DAY = dt.timedelta(days=1)


async def _officer(client, db, permissions=("manage_members",)):
    staff = await make_staff(db, list(permissions), sca_name="Zz Officer")
    await db.commit()
    await login(client, staff.email)
    return staff


def _names(page: str) -> list[str]:
    """The SCA names in the list, top to bottom."""
    return [
        html.unescape(n) for n in re.findall(r'<td><a href="/members/\d+">([^<]+)</a></td>', page)
    ]


def _links(page: str, rel: str) -> str:
    match = re.search(rf'<a href="(/members\?[^"]+)" rel="{rel}"', page)
    assert match, f"no {rel} link"
    return html.unescape(match.group(1))


async def _sample(db):
    north = await make_branch(db, "Barony of the North")
    south = await make_branch(db, "Shire of the South")
    a = await make_member(
        db,
        sca_name="Alda",
        branch_id=south.id,
        membership_number="A1",
        membership_expires_on=TODAY + 300 * DAY,
        verified_at=dt.datetime.now(dt.UTC),
    )
    b = await make_member(
        db,
        sca_name="Bero",
        branch_id=north.id,
        membership_number="B2",
        membership_expires_on=TODAY - 3 * DAY,
    )
    c = await make_member(
        db, sca_name="cato", membership_number="C3", membership_expires_on=TODAY + 10 * DAY
    )
    d = await make_member(db, sca_name="Dunn", branch_id=north.id)
    return north, south, a, b, c, d


async def test_every_column_sorts_both_ways_and_unknown_keys_fall_back_to_names(client, db):
    _north, _south, a, b, c, d = await _sample(db)
    b.modified_at = b.modified_at + dt.timedelta(hours=2)  # the last change
    await _officer(client, db)
    await db.commit()
    cases = {
        ("name", ""): ["Alda", "Bero", "cato", "Dunn", "Zz Officer"],
        ("name", "desc"): ["Zz Officer", "Dunn", "cato", "Bero", "Alda"],
        # Members without a branch or an expiry come last, whichever the direction.
        ("branch", ""): ["Bero", "Dunn", "Alda", "cato", "Zz Officer"],
        ("branch", "desc"): ["Alda", "Bero", "Dunn", "cato", "Zz Officer"],
        ("expiry", ""): ["Bero", "cato", "Alda", "Zz Officer", "Dunn"],
        ("expiry", "desc"): ["Zz Officer", "Alda", "cato", "Bero", "Dunn"],
        ("status", ""): ["Bero", "cato", "Dunn", "Alda", "Zz Officer"],
        ("changed", "desc"): ["Bero"],
        ("nonsense; DROP TABLE members", ""): ["Alda", "Bero", "cato", "Dunn", "Zz Officer"],
    }
    for (sort, direction), expected in cases.items():
        page = await client.get("/members", params={"sort": sort, "dir": direction})
        assert page.status_code == 200
        assert _names(page.text)[: len(expected)] == expected, (sort, direction)
    page = await client.get("/members", params={"sort": "expiry"})
    assert 'aria-sort="ascending"' in page.text
    # The header of the sorted column turns the order round.
    assert 'href="/members?sort=expiry&amp;dir=desc"' in page.text


async def test_filters_survive_paging_and_sorting(client, db):
    north = await make_branch(db, "Barony of the North")
    for n in range(55):
        await make_member(db, sca_name=f"North {n:02d}", branch_id=north.id)
    await make_member(db, sca_name="Elsewhere")
    await _officer(client, db)
    query = {"branch": str(north.id), "q": "north", "sort": "name", "dir": "desc"}
    first = await client.get("/members", params=query)
    assert "55 members found" in first.text
    assert _names(first.text)[0] == "North 54"
    second = await client.get(_links(first.text, "next"))
    assert "Page 2 of 2" in second.text
    assert _names(second.text) == [f"North {n:02d}" for n in range(4, -1, -1)]
    # Sorting from page 2 keeps the filters and goes back to page 1.
    link = re.search(r'href="(/members\?[^"]*sort=branch[^"]*)"', second.text)
    assert link
    target = html.unescape(link.group(1))
    assert f"branch={north.id}" in target and "q=north" in target and "page" not in target
    by_branch = await client.get(target)
    assert "55 members found" in by_branch.text and "Elsewhere" not in by_branch.text
    # The search form carries the order along with a new filter.
    assert '<input type="hidden" name="dir" value="desc">' in first.text


async def test_expired_memberships_are_flagged_in_words(client, db):
    _north, _south, a, b, c, _d = await _sample(db)
    await _officer(client, db)
    page = (await client.get("/members")).text
    row = {name: text for name, text in re.findall(r'">([^<]+)</a></td>(.*?)</tr>', page, re.S)}
    assert "Expired" in row["Bero"] and (TODAY - 3 * DAY).isoformat() in row["Bero"]
    assert "Expired" not in row["Alda"] and "until" in row["Alda"]
    assert "Expired" not in row["cato"]


async def test_membership_and_card_link_filters(client, db):
    _north, _south, a, b, c, d = await _sample(db)
    db.add(CardLink(member_id=a.id, token_hash="x" * 64, live_member_id=a.id))
    await _officer(client, db)
    await db.commit()
    expected = {
        ("membership", "expired"): ["Bero"],
        ("membership", "expiring"): ["cato"],
        ("membership", "none"): ["Dunn"],
        ("card", "live"): ["Alda"],
    }
    for (name, value), names in expected.items():
        page = await client.get("/members", params={name: value})
        assert _names(page.text) == names, (name, value)
    page = await client.get("/members", params={"card": "none"})
    assert "Alda" not in _names(page.text) and "Bero" in _names(page.text)


async def _export_rows(response) -> list[dict[str, str]]:
    text = response.content.decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


async def test_csv_export_needs_the_permission(client, db):
    await _sample(db)
    await _officer(client, db, ("manage_members", "verify_members", "issue_card_links"))
    page = await client.get("/members")
    assert "/members.csv" not in page.text
    response = await client.get("/members.csv")
    assert response.status_code == 403
    entries = (
        await db.execute(select(AuditEntry).where(AuditEntry.action == "members.export"))
    ).all()
    assert entries == []


async def test_csv_export_of_the_filtered_list_is_audited_and_safe(client, db):
    north, _south, a, b, c, d = await _sample(db)
    d.private_notes = "PRIVATE: knows where the bodies are"
    d.public_notes = "likes owls"
    hostile = await make_member(
        db,
        sca_name='=HYPERLINK("http://evil.example/","click")',
        first_name="+1+1",
        last_name="@SUM(A1)",
        phone="-2+3",
        branch_id=north.id,
    )
    officer = await _officer(client, db, ("manage_members", "export_members"))
    page = await client.get("/members", params={"branch": str(north.id), "sort": "name"})
    link = re.search(r'href="(/members\.csv\?[^"]*)"', page.text)
    assert link and "Export these 3 as CSV" in page.text
    response = await client.get(html.unescape(link.group(1)))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    assert response.headers["cache-control"] == "no-store"
    rows = await _export_rows(response)
    assert [r["SCA name"] for r in rows] == [
        '\'=HYPERLINK("http://evil.example/","click")',
        "Bero",
        "Dunn",
    ]
    evil = rows[0]
    assert evil["First name"] == "'+1+1" and evil["Last name"] == "'@SUM(A1)"
    assert evil["Phone"] == "'-2+3"
    bero = next(r for r in rows if r["SCA name"] == "Bero")
    assert bero["Branch"] == "Barony of the North" and bero["Email"] == b.email
    assert bero["Membership number"] == "B2" and bero["Membership"] == "expired"
    assert bero["Membership expires"] == (TODAY - 3 * DAY).isoformat()
    assert bero["Under 18"] == "no" and bero["Live card link"] == "no"
    body = response.content.decode("utf-8-sig")
    assert "PRIVATE" not in body and "bodies" not in body
    [entry] = (
        (await db.execute(select(AuditEntry).where(AuditEntry.action == "members.export")))
        .scalars()
        .all()
    )
    assert entry.actor_id == officer.id
    assert entry.after["rows"] == 3
    assert entry.after["criteria"]["branch"] == north.id
    assert hostile.id in {int(r["Register number"]) for r in rows}


async def test_csv_export_streams_a_large_register_in_order(client, db):
    """More rows than one database batch, in the list's order, each once."""
    await db.execute(
        insert(Member),
        [
            {
                "sca_name": f"M{n:04d}",
                "email": f"bulk{n}@example.org",
                "email_key": f"bulk{n}@example.org",
                "membership_expires_on": TODAY + n * DAY,
            }
            for n in range(2100)
        ],
    )
    await _officer(client, db, ("export_members",))
    response = await client.get("/members.csv", params={"sort": "expiry", "dir": "desc"})
    rows = await _export_rows(response)
    names = [r["SCA name"] for r in rows if r["SCA name"].startswith("M")]
    assert names == [f"M{n:04d}" for n in range(2099, -1, -1)]


async def test_csv_export_follows_every_sort_of_the_list(client, db):
    north, south, a, b, c, d = await _sample(db)
    await _officer(client, db, ("manage_members", "export_members"))
    for sort in SORTS:
        for direction in ("", "desc"):
            params = {"sort": sort, "dir": direction}
            page = await client.get("/members", params=params)
            response = await client.get("/members.csv", params=params)
            assert response.status_code == 200, (sort, direction)
            exported = [r["SCA name"] for r in await _export_rows(response)]
            assert exported == _names(page.text), (sort, direction)


async def test_search_ignores_case_takes_wildcards_literally_and_counts_across_pages(client, db):
    await _officer(client, db)
    for n in range(55):
        await make_member(db, sca_name=f"Halvard {n:02d}", email=f"halvard{n}@example.org")
    await make_member(db, sca_name="Percent 100%", email="percent@example.org")
    await make_member(db, sca_name="Percent 1000", email="thousand@example.org")
    await db.commit()
    first = (await client.get("/members?q=HALVARD")).text
    assert len(_names(first)) == 50 and "55 members found" in first  # all pages
    last = (await client.get("/members?q=halVARD&page=2")).text
    assert len(_names(last)) == 5 and "55 members found" in last
    past = await client.get("/members?q=halvard&page=9")
    assert past.status_code == 200 and _names(past.text) == [] and "55 members found" in past.text
    assert _names((await client.get("/members?q=100%25")).text) == ["Percent 100%"]
    assert _names((await client.get("/members?q=EXAMPLE.ORG+percent@")).text) == ["Percent 100%"]


async def test_search_ignores_the_case_of_letters_beyond_ascii_on_both_databases(client, db):
    """SCA names are full of Æ, Þ and Ø: "ælfric" finds "ÆLFRIC", "éva@" finds
    "ÉVA@…", "þór" finds "Þórsson" — on SQLite as on PostgreSQL (SQLite's LIKE, its
    trigram table's included, ignores the case of ASCII letters only); the export too."""
    await _officer(client, db, ("manage_members", "export_members"))
    await make_member(db, sca_name="ÆLFRIC Þórsson", email="ÉVA.ØRN@example.org")
    await make_member(db, sca_name="Alfric the Plain", email="alfric@example.org")
    await db.commit()
    for query in ("ælfric", "ÆLFRIC", "éva.ørn@", "þór", "ÞÓRSSON", "ælfric þór"):
        page = (await client.get("/members", params={"q": query})).text
        assert _names(page) == ["ÆLFRIC Þórsson"], query
    assert _names((await client.get("/members", params={"q": "alfric"})).text) == [
        "Alfric the Plain"
    ]
    assert "Export this member as CSV" in page  # one member: not "these 1"
    exported = await _export_rows(await client.get("/members.csv", params={"q": "ælfric"}))
    assert [r["SCA name"] for r in exported] == ["ÆLFRIC Þórsson"]


async def test_sorting_by_status_follows_the_labels_the_list_shows(client, db):
    now = dt.datetime.now(dt.UTC)
    year = TODAY.year
    verified = {"membership_number": "V", "membership_expires_on": TODAY + 300 * DAY}
    await make_member(db, sca_name="Adult Ada", verified_at=now, **verified)
    await make_member(
        db, sca_name="Young Yrsa", birth_year=year - 12, birth_month=1, verified_at=now, **verified
    )
    await make_member(db, sca_name="Gone Gorm", deactivated_at=now)
    await _officer(client, db)
    await db.commit()
    page = await client.get("/members", params={"sort": "status"})
    rows = re.findall(
        r"<tr>\s*<td><a href=\"/members/\d+\">([^<]+)</a></td>(.*?)</tr>", page.text, re.S
    )
    shown = [
        (name, re.findall(r"<td>([^<]*)</td>", cells)[2].strip())
        for name, cells in rows
        if name in ("Adult Ada", "Young Yrsa", "Gone Gorm")
    ]
    labels = [html.unescape(label) for _name, label in shown]
    assert labels == ["< 18 member verified", "Deactivated", "Verified"], shown
    assert labels == sorted(labels, key=str.casefold)


async def test_an_exchequer_with_only_the_export_permission_filters_and_exports(client, db):
    """``export_members`` alone (a kingdom's exchequer) opens the list from the menu,
    filters it and exports it; the names are not links to pages they may not open."""
    north, *_ = await _sample(db)
    await _officer(client, db, ("export_members",))
    menu = (await client.get("/")).text
    assert '<a href="/members">Members</a>' in menu
    page = await client.get("/members", params={"branch": str(north.id)})
    assert page.status_code == 200
    assert "Export these 2 as CSV" in page.text
    assert "Dunn" in page.text and not re.search(r'href="/members/\d+"', page.text)
    link = re.search(r'href="(/members\.csv\?[^"]*)"', page.text)
    assert link
    rows = await _export_rows(await client.get(html.unescape(link.group(1))))
    assert sorted(r["SCA name"] for r in rows) == ["Bero", "Dunn"]
