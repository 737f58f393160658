"""The plugin contract, proved end to end with the dummy plugin (tests/dummy_plugin).

Each test names the hook it proves with ``@pytest.mark.hook(...)``; the meta-tests at
the bottom fail when a field of ``Plugin`` is undocumented in the README or untested.
"""

from __future__ import annotations

import ast
import dataclasses
import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select

from server.app import create_app
from server.auth import permissions
from server.db.engine import make_engine
from server.demo.registry import DemoData, steps
from server.nightly.registry import jobs
from server.plugins import registry
from server.plugins.contract import Plugin, Row, Section, SectionContext
from server.settings.registry import definitions
from server.settings.store import set_setting
from tests.dummy_plugin import plugin as dummy_plugin
from tests.dummy_plugin.models import DummyBadge, DummyBase
from tests.factories import login, make_member, make_staff
from tests.plugin_fixtures import installed, set_enabled

ROOT = Path(__file__).resolve().parent.parent
TODAY = dt.date.today()


@pytest.fixture
def dummy(database_url: str) -> Iterator[Plugin]:
    with installed(dummy_plugin, database_url) as plugin:
        yield plugin


@pytest.fixture
async def app(dummy, settings):  # the app is built with the dummy plugin installed
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


async def _badge(db, member, name="Shiny", until=TODAY):
    db.add(DummyBadge(member_id=member.id, name=name, until=until))
    await db.commit()


@pytest.mark.hook("sections")
async def test_section_appears_in_every_context_only_while_enabled(db):
    member = await make_member(db)
    await _badge(db, member)
    for context in SectionContext:
        keys = [s.key for s in await registry.collect_sections(db, member, context, TODAY)]
        assert "dummy_badges" not in keys
    await set_enabled(db, "dummy", True)
    for context in SectionContext:
        sections = await registry.collect_sections(db, member, context, TODAY)
        dummy = next(s for s in sections if s.key == "dummy_badges")
        assert dummy.rows == (Row("Shiny", f"shown on {context.value}", note="dummy badge"),)
        assert dummy.as_dict()["rows"][0]["label"] == "Shiny"
    await set_enabled(db, "dummy", False)
    sections = await registry.collect_sections(db, member, SectionContext.MOBILE_CARD, TODAY)
    assert "dummy_badges" not in [s.key for s in sections]


@pytest.mark.hook("sections")
async def test_section_on_the_auth_card_and_in_the_mobile_card_payload(client, db, settings):
    import json

    from server.cards.builder import refresh

    member = await make_member(db)
    await _badge(db, member, "Glittering")
    await login(client, member.email)
    assert "Glittering" not in (await client.get(f"/members/{member.id}/auth-card")).text
    body = (await refresh(db, member.id, settings)).body
    assert "dummy_badges" not in [s["key"] for s in json.loads(body)["sections"]]
    await set_enabled(db, "dummy", True)
    card = (await client.get(f"/members/{member.id}/auth-card")).text
    assert "Dummy badges" in card and "Glittering" in card and "shown on auth_card" in card
    body = (await refresh(db, member.id, settings)).body
    sections = {s["key"]: s for s in json.loads(body)["sections"]}
    assert sections["dummy_badges"]["rows"][0]["value"] == "shown on mobile_card"


@pytest.mark.hook("sections")
async def test_section_on_the_marshal_check_page_only_while_enabled(app, client, db):
    from tests.activities_fixtures import make_activity, make_authorization
    from tests.check_fixtures import code_for, make_verified

    marshal = await make_staff(db, ["check_cards"])
    member = await make_verified(db)
    await _badge(db, member, "Sparkling")
    await make_authorization(db, member, await make_activity(db, "Rapier", "Single Rapier"))
    await db.commit()
    await login(client, marshal.email)
    url = f"/check/{code_for(app, member)}"
    page = (await client.get(url)).text
    assert "Single Rapier" in page and "Sparkling" not in page
    await set_enabled(db, "dummy", True)
    page = (await client.get(url)).text
    assert 'data-section="dummy_badges"' in page and "shown on check_page" in page
    await set_enabled(db, "dummy", False)
    assert "Sparkling" not in (await client.get(url)).text


@pytest.mark.hook("bulk_sections")
async def test_bulk_sections_agree_with_sections_for_every_member(db):
    members = [await make_member(db) for _ in range(3)]
    await _badge(db, members[0], "Alpha")
    await _badge(db, members[0], "Beta")
    await _badge(db, members[2], "Gamma")
    await set_enabled(db, "dummy", True)
    many = await registry.collect_sections_many(db, members, SectionContext.AUTH_CARD, TODAY)
    for member in members:
        one = await registry.collect_sections(db, member, SectionContext.AUTH_CARD, TODAY)
        assert many[member.id] == one
    dummy = next(s for s in many[members[0].id] if s.key == "dummy_badges")
    assert [r.label for r in dummy.rows] == ["Alpha", "Beta"]
    assert "dummy_badges" not in [s.key for s in many[members[1].id]]  # no rows: hidden


@pytest.mark.hook("same_sections_in_every_context")
async def test_sections_asked_in_several_contexts_come_from_each_context(dummy, db):
    """By default a plugin is asked in every context and each shows its own sections."""
    member = await make_member(db)
    await _badge(db, member, "Alpha")
    await set_enabled(db, "dummy", True)
    contexts = (SectionContext.MOBILE_CARD, SectionContext.CHECK_PAGE)
    found = await registry.collect_sections_in(db, [member], contexts, TODAY)
    for context in contexts:
        alone = await registry.collect_sections_many(db, [member], context, TODAY)
        assert found[context] == alone
        dummy_rows = next(s for s in found[context][member.id] if s.key == "dummy_badges").rows
        assert dummy_rows[0].value == f"shown on {context.value}"


@pytest.fixture
def alike_dummy(dummy: Plugin) -> Iterator[list[SectionContext]]:
    """The dummy plugin declaring its sections alike in every context (in place of the
    installed one); the contexts it is asked in."""
    asked: list[SectionContext] = []

    async def counted(db, members, context, today):
        asked.append(context)
        assert dummy_plugin.bulk_sections is not None
        return await dummy_plugin.bulk_sections(db, members, context, today)

    alike = dataclasses.replace(
        dummy_plugin, bulk_sections=counted, same_sections_in_every_context=True
    )
    registry.install(alike)
    try:
        yield asked
    finally:
        registry.install(dummy)


@pytest.mark.hook("same_sections_in_every_context")
async def test_sections_alike_in_every_context_are_asked_for_once(db, alike_dummy):
    member = await make_member(db)
    await _badge(db, member, "Alpha")
    await set_enabled(db, "dummy", True)
    contexts = (SectionContext.MOBILE_CARD, SectionContext.CHECK_PAGE)
    found = await registry.collect_sections_in(db, [member], contexts, TODAY)
    assert alike_dummy == [SectionContext.MOBILE_CARD]
    shown = found[SectionContext.CHECK_PAGE][member.id]
    assert shown == found[SectionContext.MOBILE_CARD][member.id]
    dummy_rows = next(s for s in shown if s.key == "dummy_badges").rows
    assert dummy_rows[0].value == "shown on mobile_card"  # the first context's, in both


@pytest.mark.hook("routes")
@pytest.mark.hook("permissions")
async def test_route_answers_404_while_disabled_and_checks_the_plugin_permission(client, db):
    keeper = await make_staff(db, ["dummy_manage"], email="keeper@example.org")
    other = await make_staff(db, ["manage_members"], email="other@example.org")
    await _badge(db, keeper, "Gold")
    await db.commit()
    assert permissions.get("dummy_manage") is not None
    await login(client, other.email)
    assert (await client.get("/dummy/badges")).status_code == 404
    await set_enabled(db, "dummy", True)
    assert (await client.get("/dummy/badges")).status_code == 403
    client.cookies.clear()
    await login(client, keeper.email)
    response = await client.get("/dummy/badges")
    assert response.status_code == 200
    assert response.json()["badges"] == ["Gold"]
    await set_enabled(db, "dummy", False)
    assert (await client.get("/dummy/badges")).status_code == 404


@pytest.mark.hook("settings")
async def test_setting_is_declared_with_its_default_and_read_by_the_plugin(client, db):
    assert "dummy_greeting" in [d.key for d in definitions()]
    keeper = await make_staff(db, ["dummy_manage"])
    await set_enabled(db, "dummy", True)
    await login(client, keeper.email)
    assert (await client.get("/dummy/badges")).json()["greeting"] == "Hello from the dummy"
    await set_setting(db, "dummy_greeting", "Well met", actor_id=keeper.id)
    await db.commit()
    assert (await client.get("/dummy/badges")).json()["greeting"] == "Well met"


@pytest.mark.hook("nav_links")
async def test_nav_link_shows_for_holders_while_enabled(client, db):
    keeper = await make_staff(db, ["dummy_manage"])
    await db.commit()
    await login(client, keeper.email)
    assert 'href="/dummy/badges"' not in (await client.get("/login")).text
    await set_enabled(db, "dummy", True)
    assert 'href="/dummy/badges"' in (await client.get("/login")).text


def _only_dummy_tables(name, type_, parent_names):
    table = name if type_ == "table" else parent_names.get("table_name")
    return table is None or table.startswith("dummy_")


@pytest.mark.hook("model_modules")
@pytest.mark.hook("migrations")
async def test_models_and_their_migration_branch_match(database_url, db):
    engine = make_engine(database_url)
    async with engine.connect() as conn:
        diff = await conn.run_sync(
            lambda c: compare_metadata(
                MigrationContext.configure(c, opts={"include_name": _only_dummy_tables}),
                DummyBase.metadata,
            )
        )
        heads = await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_heads())
    await engine.dispose()
    assert diff == []
    assert "t001_dummy" in heads
    member = await make_member(db)
    await _badge(db, member)
    assert (await db.scalars(select(DummyBadge.name))).all() == ["Shiny"]


@pytest.mark.hook("nightly_jobs")
async def test_nightly_job_runs_only_while_enabled(db):
    member = await make_member(db)
    await _badge(db, member, "Old", until=TODAY - dt.timedelta(days=1))
    await _badge(db, member, "New", until=TODAY + dt.timedelta(days=1))
    job = next(j for j in jobs() if j.name == "dummy.retire_badges")
    assert await job.run(db, TODAY) == "skipped (plugin disabled)"
    await set_enabled(db, "dummy", True)
    assert await job.run(db, TODAY) == "1 badges retired"
    await db.commit()
    sections = await registry.collect_sections(db, member, SectionContext.CHECK_PAGE, TODAY)
    dummy = next(s for s in sections if s.key == "dummy_badges")
    assert [r.label for r in dummy.rows] == ["New"]


@pytest.mark.hook("demo")
async def test_demo_hook_runs_as_a_demo_step_while_enabled(db):
    member = await make_member(db)
    demo = DemoData(today=TODAY, base_url="http://testserver", members={"admin": member})
    for step in steps():
        if step.__qualname__.startswith("_demo_when_enabled"):
            await step(db, demo)
    assert (await db.scalars(select(DummyBadge))).all() == []
    await set_enabled(db, "dummy", True)
    for step in steps():
        if step.__qualname__.startswith("_demo_when_enabled"):
            await step(db, demo)
    assert [b.name for b in (await db.scalars(select(DummyBadge))).all()] == ["Demo badge"]


@pytest.mark.hook("key")
@pytest.mark.hook("name")
@pytest.mark.hook("always_enabled")
async def test_core_parts_use_the_contract_always_on_and_order_is_order_then_key(db, dummy):
    async def core_sections(db, member, context, today):
        return [
            Section("core_b", "B", order=50, rows=(Row("b"),)),
            Section("core_a", "A", order=50, rows=(Row("a"),)),
            Section("core_first", "First", order=10, empty_text="Nothing yet"),
            Section("core_hidden", "Hidden"),  # no rows, no empty text: not shown
        ]

    core = Plugin(key="core_test", name="Core parts", sections=core_sections, always_enabled=True)
    registry.install(core)
    try:
        member = await make_member(db)
        await _badge(db, member)
        await set_enabled(db, "dummy", True)
        await set_enabled(db, "activities", False)
        sections = await registry.collect_sections(db, member, SectionContext.AUTH_CARD, TODAY)
        assert [s.key for s in sections] == ["core_first", "core_a", "core_b", "dummy_badges"]
        assert [p.key for p in registry.available()] == ["activities", "core_test", "dummy"]
    finally:
        registry.uninstall("core_test")
    assert "core_test" not in [p.key for p in registry.available()]


def test_uninstall_takes_back_what_install_registered(database_url):
    with installed(dummy_plugin, database_url):
        assert "dummy.retire_badges" in [j.name for j in jobs()]
    assert "dummy.retire_badges" not in [j.name for j in jobs()]
    assert "dummy_greeting" not in [d.key for d in definitions()]
    assert permissions.get("dummy_manage") is None


# --- meta-tests: every hook documented and tested ---------------------------------


def _readme_section() -> str:
    text = (ROOT / "README.md").read_text()
    match = re.search(r"^## Writing a plugin\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, "README.md has no '## Writing a plugin' section"
    return match.group(1)


def _tested_hooks() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "tests").rglob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and ast.unparse(node.func) == "pytest.mark.hook"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                found.add(node.args[0].value)
    return found


HOOKS = [f.name for f in dataclasses.fields(Plugin)]


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_is_documented_in_the_readme_with_its_signature(hook):
    section = _readme_section()
    entry = re.search(rf"^- \*\*`{hook}`\*\* — `([^`]+)`", section, re.M)
    assert entry, f"README 'Writing a plugin' does not document the `{hook}` hook"
    assert entry.group(1).strip(), f"the `{hook}` entry has no signature"


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_test(hook):
    assert hook in _tested_hooks(), f"no test is marked @pytest.mark.hook({hook!r})"


@pytest.mark.hook("sections")
async def test_section_on_the_mobile_card_html_and_json_only_while_enabled(
    app, client, db, settings
):
    from tests.activities_fixtures import make_activity, make_authorization
    from tests.card_fixtures import issued_token

    member = await make_member(db)
    await _badge(db, member, "Radiant")
    await make_authorization(db, member, await make_activity(db, "Archery", "Target Archery"))
    await db.commit()
    token = await issued_token(db, settings, member)

    async def card() -> tuple[str, dict]:
        html = (await client.get(f"/card/{token}")).text
        data = (await client.get(f"/card/{token}.json")).json()
        return html, {s["key"]: s for s in data["sections"]}

    await _card_shows_the_section_only_while_enabled(db, card)


async def _card_shows_the_section_only_while_enabled(db, card) -> None:
    html, sections = await card()
    assert "Target Archery" in html and sections["authorizations"]["rows"][0]["group"] == "Archery"
    assert "Radiant" not in html and "dummy_badges" not in sections
    await set_enabled(db, "dummy", True)
    html, sections = await card()
    assert 'data-key="dummy_badges"' in html and "shown on mobile_card" in html
    assert sections["dummy_badges"]["rows"][0]["label"] == "Radiant"
    await set_enabled(db, "dummy", False)
    html, sections = await card()
    assert "Radiant" not in html and "dummy_badges" not in sections
