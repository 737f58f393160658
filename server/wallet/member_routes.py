"""Where members get their pass: through their card link, like the card itself.

``/wallet/{token}/apple.pkpass`` answers the signed Apple pass (Safari on an iPhone
offers "Add to Apple Wallet"); ``/wallet/{token}/google`` sends the browser on to the
"Save to Google Wallet" link. Outside ``/card/``, so the card app's service worker
(scope ``/card/``) leaves them to the network. Like the card: no session, ``no-store``,
``no-referrer``; unknown links count against the client as the card's do (and share
its limit), a revoked link answers 410, and a wallet the server is not configured for
answers 404. A pass staff voided is not handed out again (410): a new card link
brings a new pass.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from server import clock
from server.cards.card_routes import CARD_HEADERS, unknown_limiter
from server.config import Settings
from server.wallet import tokens
from server.wallet.apple_pass import pkpass_bytes
from server.wallet.google_pass import save_url
from server.wallet.issuing import find_link, pass_for_link
from server.wallet.models import WalletPass
from server.wallet.pkpass import MEDIA_TYPE
from server.web.ratelimit import client_key

PROBLEMS = {
    404: ("Card not found", "There is no card at this address."),
    410: ("Card link no longer valid", "This card link was replaced or revoked."),
    429: ("Too many requests", "Too many unknown card links from your address. Wait a little."),
    "void": (
        "Wallet pass voided",
        "The membership office voided this card's wallet pass. Ask them for a new card link "
        "to add your card to a wallet again.",
    ),
    "off": ("Not available", "This wallet is not set up on this server."),
}


def problem(request: Request, status: int, key: int | str) -> Response:
    title, message = PROBLEMS[key]
    html = request.app.state.templates.get_template("wallet/problem.html").render(
        {"title": title, "message": message, "code": str(key)}
    )
    headers = dict(CARD_HEADERS)
    if status == 429:
        headers["Retry-After"] = str(unknown_limiter.retry_after(client_key(request.client)))
    return HTMLResponse(html, status_code=status, headers=headers)


async def _pass(request: Request, wallet: str) -> Response | WalletPass:
    settings: Settings = request.app.state.settings
    async with request.app.state.sessionmaker() as db:
        found = await find_link(db, request.path_params["token"])
        if found == 404:  # only unknown links count; a valid card is always answered
            client = client_key(request.client)
            if unknown_limiter.retry_after(client):
                return problem(request, 429, 429)
            unknown_limiter.hit(client)
        if isinstance(found, int):
            return problem(request, found, found)
        wallet_pass = await pass_for_link(db, settings, found, wallet, clock.now())
        if wallet_pass.voided_at is not None:
            return problem(request, 410, "void")
        return wallet_pass


async def apple_pass(request: Request) -> Response:
    apple = request.app.state.settings.wallet.apple
    if apple is None:
        return problem(request, 404, "off")
    found = await _pass(request, "apple")
    if isinstance(found, Response):
        return found
    settings: Settings = request.app.state.settings
    token = tokens.auth_token(found.serial, str(settings.secret_key))
    body = pkpass_bytes(found, apple, token, settings.base_url)
    return Response(
        body,
        media_type=MEDIA_TYPE,
        headers={
            **CARD_HEADERS,
            "Content-Disposition": 'attachment; filename="member-card.pkpass"',
        },
    )


async def google_link(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    google = settings.wallet.google
    if google is None:
        return problem(request, 404, "off")
    found = await _pass(request, "google")
    if isinstance(found, Response):
        return found
    return RedirectResponse(
        save_url(google, found, settings.base_url), status_code=303, headers=CARD_HEADERS
    )


routes = [
    Route("/wallet/{token}/apple.pkpass", apple_pass, methods=["GET"]),
    Route("/wallet/{token}/google", google_link, methods=["GET"]),
]
