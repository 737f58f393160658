"""Jinja2 templates with the globals every page needs (user, CSRF token, flashes)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from server import clock
from server.auth import permissions
from server.mail.sealed import unseal_filter
from server.members import status as member_status
from server.members.lookup import REGISTER_PERMISSIONS
from server.web import navigation
from server.web.csrf import csrf_token
from server.web.navigation import NavLink
from server.web.nobreak import nobreak_dates

ROOT = Path(__file__).resolve().parent.parent.parent
TEMPLATE_DIR = ROOT / "templates"


def flash(request: Request, text: str, level: str = "success") -> None:
    """Queue a message for the next page this browser renders."""
    request.session.setdefault("flash", []).append([level, text])


def _pop_flashes(request: Request) -> list[list[str]]:
    if "session" not in request.scope:
        return []
    flashes: list[list[str]] = request.session.pop("flash", [])
    return flashes


def _date(value: dt.date | dt.datetime | None, fmt: str = "%Y-%m-%d") -> str:
    if value is None:
        return ""
    return value.strftime(fmt)


def _datetime(value: dt.datetime | None) -> str:
    if value is None:
        return ""
    return value.strftime("%Y-%m-%d %H:%M UTC")


def permission_label(key: str) -> str:
    """What people read for a permission: its label from the catalogue."""
    found = permissions.get(key)
    return found.label if found is not None else key.replace("_", " ").capitalize()


def make_templates(directory: Path = TEMPLATE_DIR) -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(directory))
    env = templates.env
    env.globals["status_label"] = member_status.label
    env.globals["STATUSES"] = member_status.STATUSES
    env.globals["permission_label"] = permission_label
    env.globals["is_adult"] = member_status.is_adult
    env.filters["date"] = _date
    env.filters["datetime"] = _datetime
    env.filters["nobreak_dates"] = nobreak_dates  # dates that never wrap at a hyphen
    env.filters["unseal"] = unseal_filter  # outbox viewer: open sealed card links
    return templates


def nav_links_for(request: Request) -> list[NavLink]:
    """Admin links for staff: those without a permission, and those whose permission they hold."""
    if not getattr(request.state, "is_staff", False):
        return []
    perms: frozenset[str] = getattr(request.state, "perms", frozenset())
    plugins_on = (getattr(request.state, "site", None) or {}).get("enabled_plugins") or []
    superuser = getattr(request.state, "is_superuser", False)
    return [
        link
        for link in navigation.links()
        if navigation.visible_to(link, perms)
        and link.plugin in (None, *plugins_on)
        and (superuser or not link.superuser_only)
    ]


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    templates: Jinja2Templates = request.app.state.templates
    state = request.state
    shown = nav_links_for(request)
    ctx: dict[str, Any] = {
        "user": getattr(state, "user", None),
        "perms": getattr(state, "perms", frozenset()),
        "site": getattr(state, "site", None) or {},
        "nav_links": shown,
        "nav_groups": navigation.grouped(shown),
        "nav_current": navigation.current_link(shown, request.url.path),
        # Whether member pages open for the viewer: names link to them only then.
        "may_open_members": not frozenset(getattr(state, "perms", ())).isdisjoint(
            REGISTER_PERMISSIONS
        ),
        "today": clock.today(getattr(state, "site", None) or {}),
        "flashes": _pop_flashes(request),
        "csrf_token": csrf_token(request.session) if "session" in request.scope else "",
    }
    ctx.update(context or {})
    return templates.TemplateResponse(request, name, ctx, status_code=status_code)
