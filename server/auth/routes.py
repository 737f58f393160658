"""Login, logout and password reset pages."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from server.auth.current import end_session, start_session
from server.auth.devices import known_device, remember
from server.auth.guards import page
from server.auth.login import LOCKOUT, MAX_FAILURES, attempt_login
from server.auth.passwords import password_problem
from server.auth.reset import TokenUsed, complete_reset, request_reset, valid_token
from server.web.forms import FormReader
from server.web.ratelimit import RateLimiter, client_key
from server.web.templating import flash, render

log = logging.getLogger("tessera.auth")

# Per client address, on top of the per-account lockout.
login_limiter = RateLimiter(limit=30, window=300)
reset_limiter = RateLimiter(limit=10, window=3600)
# A known device's own failures on one account: as many as lock it (``login.MAX_FAILURES``
# within ``login.LOCKOUT``) and the device is a stranger to that account's lock again.
device_failures = RateLimiter(limit=MAX_FAILURES, window=LOCKOUT.total_seconds())


def _safe_next(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not value.startswith("/") or value.startswith("//"):
        return "/"
    return value


def _too_many(
    request: Request, limiter: RateLimiter, template: str, key: str | None = None
) -> Response | None:
    wait = limiter.retry_after(key or client_key(request.client))
    if not wait:
        return None
    response = render(
        request,
        template,
        {"error": "Too many attempts from your address. Wait a little and try again."},
        status_code=429,
    )
    response.headers["Retry-After"] = str(wait)
    return response


@page(anonymous=True)
async def login(request: Request) -> Response:
    next_url = _safe_next(request.query_params.get("next", "/"))
    if request.method != "POST":
        return render(request, "auth/login.html", {"next": next_url})
    form = FormReader(await request.form())
    email = form.text("email", "Email", max_length=254)
    password = form.raw("password")[:1000]
    # A browser this account logged in from before is counted on its own, not with its
    # address: a guesser behind the same Wi-Fi does not keep its owner out.
    device = known_device(request, email)
    key = f"device:{device}" if device else client_key(request.client)
    limited = _too_many(request, login_limiter, "auth/login.html", key)
    if limited:
        return limited
    # … and gets past the account's lock unless it made the lock itself.
    own_lock = f"{device}:{email.strip().lower()}"
    trusted = device is not None and not device_failures.retry_after(own_lock)
    db = request.state.db
    # Only failures count, but each attempt is counted before it is checked and given
    # back if it succeeds: a burst of guesses sent at the same moment (say one password
    # tried on a thousand addresses) is held to the limit, not let through because none
    # of them had failed yet when each was let in.
    login_limiter.hit(key)
    if device is not None:  # so too the device's own tries at the account's lock
        device_failures.hit(own_lock)
    result = await attempt_login(db, email, password, known_device=trusted)
    await db.commit()
    if result.member is None:
        return render(
            request,
            "auth/login.html",
            {
                "error": result.error,
                "contact_needed": result.contact_needed,
                "email": email,
                "next": next_url,
            },
            status_code=400,
        )
    login_limiter.refund(key)
    if device is not None:
        device_failures.refund(own_lock)
    await start_session(request, db, result.member)
    await db.commit()
    if _shows_messages(next_url):
        flash(request, f"Welcome, {result.member.display_name}.")
    response = RedirectResponse(next_url, status_code=303)
    if result.member.email_key:
        remember(request, response, result.member.email_key)
    return response


def _shows_messages(path: str) -> bool:
    """Whether the page at ``path`` shows queued messages. A check page does not (it says
    "Checked by …" instead): a welcome queued for it would greet the marshal later, on
    whatever page they open next."""
    return not path.startswith("/check/") or path.startswith("/check/scan/")


@page(anonymous=True)
async def logout(request: Request) -> Response:
    db = request.state.db
    await end_session(request, db)
    await db.commit()
    flash(request, "You are logged out.")
    return RedirectResponse("/login", status_code=303)


@page(anonymous=True)
async def reset_request(request: Request) -> Response:
    if request.method != "POST":
        return render(request, "auth/reset_request.html")
    limited = _too_many(request, reset_limiter, "auth/reset_request.html")
    if limited:
        return limited
    reset_limiter.hit(client_key(request.client))
    form = FormReader(await request.form())
    email = form.email("email")
    if not form.ok:
        return render(request, "auth/reset_request.html", {"errors": form.errors}, status_code=400)
    response = render(request, "auth/reset_sent.html", {"email": email})
    response.background = BackgroundTask(
        _send_reset, request.app, email, request.state.site["site_title"], _contact(request)
    )
    return response


def _contact(request: Request) -> str:
    site = request.state.site
    return str(site.get("membership_office_email") or site.get("contact_email") or "")


async def _send_reset(app: Starlette, email: str, site_title: str, contact: str) -> None:
    """After the answer has gone: known and unknown addresses take the same time to answer."""
    settings = app.state.settings
    try:
        async with app.state.sessionmaker() as db:
            await request_reset(
                db, email, settings.base_url, site_title, str(settings.secret_key), contact
            )
            await db.commit()
    except Exception:
        log.exception("password reset request could not be recorded")


@page(anonymous=True)
async def reset_confirm(request: Request) -> Response:
    db = request.state.db
    token = request.path_params["token"]
    row = await valid_token(db, token)
    response: Response
    if row is None:
        response = render(request, "auth/reset_invalid.html", status_code=400)
    elif request.method != "POST":
        response = render(request, "auth/reset_form.html")
    else:
        form = FormReader(await request.form())
        password = form.raw("password")
        problem = password_problem(password)
        if problem is None and password != form.raw("password_again"):
            problem = "The two passwords differ."
        if problem:
            response = render(request, "auth/reset_form.html", {"error": problem}, status_code=400)
        else:
            try:
                await complete_reset(db, row, password)
                await db.commit()
            except TokenUsed:
                response = render(request, "auth/reset_invalid.html", status_code=400)
            else:
                flash(request, "Your password is set. Log in with it now.")
                response = RedirectResponse("/login", status_code=303)
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


routes = [
    Route("/login", login, methods=["GET", "POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/password-reset", reset_request, methods=["GET", "POST"]),
    Route("/password-reset/{token}", reset_confirm, methods=["GET", "POST"]),
]
