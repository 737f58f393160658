"""The Activities plugin: activity groups, activities and members' authorizations.

Flows (each checked on the server, one transaction, audited, emailed): ``requests``
(request, retract), ``decisions`` (vote, activate, revoke) and ``expiry`` (nightly).
Card sections in ``sections``; pages in ``admin_routes`` and ``member_routes``.
"""

from __future__ import annotations

from pathlib import Path

from server.nightly.registry import NightlyJob
from server.plugins.activities import admin_routes, card_refresh, member_routes
from server.plugins.activities.demo import demo_activities
from server.plugins.activities.expiry import expire_authorizations
from server.plugins.activities.permissions import AUTHORIZER_PERMISSIONS
from server.plugins.activities.sections import activity_sections, activity_sections_many
from server.plugins.contract import Plugin
from server.web.navigation import ACTIVITIES, NavLink

__all__ = ["card_refresh", "plugin"]  # card_refresh: its listener registers at import

plugin = Plugin(
    key="activities",
    name="Activities and authorizations",
    sections=activity_sections,
    bulk_sections=activity_sections_many,
    same_sections_in_every_context=True,
    routes=[*admin_routes.routes, *member_routes.routes],
    nav_links=[
        NavLink(
            "Activities",
            "/activities/admin",
            permission="manage_activities",
            order=60,
            group=ACTIVITIES,
        ),
        NavLink(
            "Authorization requests",
            "/activities/queue",
            order=61,
            group=ACTIVITIES,
            waiting=member_routes.waiting_count,
            waiting_label="authorization requests waiting for you",
            waiting_label_one="authorization request waiting for you",
        ),
    ],
    permissions=list(AUTHORIZER_PERMISSIONS),
    model_modules=["server.plugins.activities.models"],
    migrations=Path(__file__).resolve().parent / "migrations",
    nightly_jobs=[NightlyJob("expire_authorizations", 40, expire_authorizations)],
    demo=demo_activities,
)
