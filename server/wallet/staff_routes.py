"""Staff: a member's wallet passes, and voiding one (``issue_card_links``).

The page lists every pass the member ever had — wallet, when it was added and last
changed, the devices registered for updates, what is waiting to be delivered, whether
and why it was voided. Voiding asks for a reason and follows the precedence rule
(``server.auth.precedence``): only for members below the officer. It is audited, and
the phones are told through the queued pushes and API updates.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from server import clock
from server.auth.guards import page
from server.auth.precedence import refusal, require_may_act
from server.config import Settings
from server.members.models import Member
from server.wallet.models import WalletDelivery, WalletDevice, WalletPass
from server.wallet.refresh import refresh
from server.wallet.voiding import WALLET_NAMES, VoidRefused, void_pass
from server.web.forms import FormReader, parse_id
from server.web.templating import flash, render

REASON_MISSING = "Give a reason; it is kept in the member's audit trail."


async def _member(request: Request) -> Member:
    member_id = parse_id(request.path_params["member_id"])
    db: AsyncSession = request.state.db
    member = None if member_id is None else await db.get(Member, member_id)
    if member is None:
        raise HTTPException(404, "There is no such member.")
    return member


async def _page(
    request: Request, member: Member, errors: dict[int, str] | None = None, status_code: int = 200
) -> Response:
    db = request.state.db
    settings: Settings = request.app.state.settings
    # Bring the member's passes up to date first, as a phone asking would: right after
    # the card link was revoked the page says "Voided", not "Live" until the wallet
    # loop's next round (or forever, with background jobs off).
    live = select(WalletPass.id).where(
        WalletPass.member_id == member.id, WalletPass.voided_at.is_(None)
    )
    await refresh(db, settings, list((await db.execute(live)).scalars()))
    passes = list(
        (
            await db.execute(
                select(WalletPass)
                .where(WalletPass.member_id == member.id)
                .order_by(WalletPass.created_at.desc(), WalletPass.id.desc())
            )
        ).scalars()
    )
    ids = [p.id for p in passes]
    devices = dict(
        (
            await db.execute(
                select(WalletDevice.pass_id, func.count())
                .where(WalletDevice.pass_id.in_(ids), WalletDevice.ended_at.is_(None))
                .group_by(WalletDevice.pass_id)
            )
        ).all()
    )
    waiting: dict[int, dict[str, int]] = {}
    for pass_id, status, count in await db.execute(
        select(WalletDelivery.pass_id, WalletDelivery.status, func.count())
        .where(
            WalletDelivery.pass_id.in_(ids),
            WalletDelivery.status.in_(["queued", "sending", "failed"]),
        )
        .group_by(WalletDelivery.pass_id, WalletDelivery.status)
    ):
        waiting.setdefault(pass_id, {})[status] = count
    voider_ids = {p.voided_by_id for p in passes if p.voided_by_id is not None}
    voiders = {
        officer.id: officer.display_name
        for officer in (await db.execute(select(Member).where(Member.id.in_(voider_ids)))).scalars()
    }
    return render(
        request,
        "wallet/member.html",
        {
            "member": member,
            "passes": passes,
            "devices": devices,
            "waiting": waiting,
            "voiders": voiders,
            "wallet_names": WALLET_NAMES,
            "offered": settings.wallet.offered(),
            "protected": await refusal(request, member),
            "errors": errors or {},
        },
        status_code=status_code,
    )


@page("issue_card_links")
async def member_passes(request: Request) -> Response:
    return await _page(request, await _member(request))


@page("issue_card_links")
async def void(request: Request) -> Response:
    db = request.state.db
    member = await _member(request)
    await require_may_act(request, member)
    pass_id = parse_id(request.path_params["pass_id"])
    if pass_id is None:
        raise HTTPException(404, "There is no such pass.")
    form = FormReader(await request.form())
    reason = form.text("reason", "Reason", max_length=300)
    if not form.ok or not reason:
        return await _page(
            request, member, {pass_id: form.errors.get("reason") or REASON_MISSING}, 400
        )
    back = f"/members/{member.id}/wallet"
    name = member.display_name
    try:
        voided = await void_pass(
            db,
            request.app.state.settings,
            pass_id,
            member.id,
            actor_id=request.state.user.id,
            reason=reason,
            now=clock.now(),
        )
    except VoidRefused as refused:
        await db.rollback()
        flash(request, str(refused), "error")
        return RedirectResponse(back, status_code=303)
    wallet = WALLET_NAMES[voided.wallet]
    await db.commit()
    flash(
        request, f"The {wallet} pass of {name} is voided; their phone shows it as void once told."
    )
    return RedirectResponse(back, status_code=303)


routes = [
    Route("/members/{member_id}/wallet", member_passes, methods=["GET"]),
    Route("/members/{member_id}/wallet/{pass_id}/void", void, methods=["POST"]),
]
