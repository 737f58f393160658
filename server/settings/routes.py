"""The app settings page: every declared setting, edited with its own validation.

The page posts every setting (an unticked box is absent: off). A post that names only
some settings — ``ENFORCE_MEMBER_CODES=off`` from a script, say — changes only those
and leaves the others as they are; a box it names is on for ``on``/``true``/``1``/``yes``
and off otherwise.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from server.auth.guards import page
from server.settings.registry import SettingError, definitions
from server.settings.store import load_settings, lock_settings, set_setting
from server.web.forms import MAX_FIELD
from server.web.navigation import NavLink
from server.web.seen import fingerprint, stale
from server.web.templating import flash, render

# The admin menu's links to this area's pages (``create_app`` adds them).
nav_links = [
    NavLink("Settings", "/admin/settings", permission="manage_settings", order=80),
]


def _page(
    request: Request,
    current: dict[str, Any],
    raw: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
    outdated: bool = False,
) -> Response:
    posted = raw or {}  # what was typed, shown again; else what is saved
    rows = [
        {
            "definition": d,
            "value": posted[d.key] if d.key in posted else d.render(current[d.key]),
            "checked": (d.kind == "bool" and d.parse(posted[d.key]))
            if d.key in posted
            else bool(current[d.key]),
        }
        for d in definitions()
    ]
    return render(
        request,
        "settings/edit.html",
        {"rows": rows, "errors": errors or {}, "seen": fingerprint(current), "stale": outdated},
        status_code=status,
    )


@page("manage_settings")
async def settings_page(request: Request) -> Response:
    db = request.state.db
    current = await load_settings(db)
    if request.method != "POST":
        return _page(request, current)
    form = await request.form()
    whole_page = all(d.key in form for d in definitions() if d.kind != "bool")
    posted = [d for d in definitions() if whole_page or d.key in form]
    raw = {d.key: form.get(d.key) for d in posted}
    text = {k: v if isinstance(v, str) else "" for k, v in raw.items()}
    parsed: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for definition in posted:
        value = text[definition.key]
        if len(value) > MAX_FIELD or "\x00" in value:
            errors[definition.key] = f"{definition.label}: too long or not plain text."
            continue
        try:
            parsed[definition.key] = definition.parse(value)
        except SettingError as exc:
            errors[definition.key] = str(exc)
    if errors:
        return _page(request, current, text, errors, 400)
    await lock_settings(db)  # two saves at once: one after the other
    current = await load_settings(db)
    if stale(form.get("seen"), current):
        # The page was drawn before another admin's save: saving it whole would undo
        # that save. Nothing is written; the page shows what is saved now.
        await db.rollback()
        return _page(request, current, status=409, outdated=True)
    changed = [
        key
        for key, value in parsed.items()
        if await set_setting(db, key, value, actor_id=request.state.user.id)
    ]
    await db.commit()
    flash(request, f"Saved {len(changed)} changed setting(s)." if changed else "Nothing changed.")
    return RedirectResponse("/admin/settings", status_code=303)


routes = [Route("/admin/settings", settings_page, methods=["GET", "POST"])]
