"""Membership proof pages: the member's upload (``/me/membership-proof``) and the office's
verification queue (``verify_members``). The image is shown to the office only."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from server import clock
from server.auth.guards import page
from server.auth.precedence import protected_ids, refusal
from server.members.actions import ActionRefused
from server.members.models import Member
from server.photos.images import (
    DOCUMENT_MAX_SIDE,
    MAX_UPLOAD_BYTES,
    PhotoRefused,
    process_off_loop,
)
from server.proofs import service
from server.proofs.models import PENDING, MembershipProof
from server.web import navigation
from server.web.forms import FormReader, parse_id
from server.web.headers import IMAGE_HEADERS
from server.web.navigation import NavLink
from server.web.templating import flash, render

PERMISSION = "verify_members"
RECENT = 20


async def _my_page(
    request: Request, errors: dict[str, str] | None = None, values: object = None
) -> Response:
    proofs = await service.proofs_of(request.state.db, request.state.user.id)
    return render(
        request,
        "proofs/mine.html",
        {"proofs": proofs, "errors": errors or {}, "values": values or {}},
        status_code=400 if errors else 200,
    )


@page()
async def my_proof(request: Request) -> Response:
    """Upload a photo of your membership card with its number; see what became of it."""
    if request.method != "POST":
        return await _my_page(request)
    db = request.state.db
    member: Member = request.state.user
    # Leaving the block closes the upload (over 1 MB it is a temporary file on disk).
    async with request.form(max_part_size=MAX_UPLOAD_BYTES + 1024) as form:
        reader = FormReader(form)
        number = reader.text("membership_number", "Membership number", required=True, max_length=40)
        expires_on = reader.date("expires_on", "Expiry date")
        file = form.get("image")
        data = await file.read(MAX_UPLOAD_BYTES + 1) if isinstance(file, UploadFile) else b""
    image = None
    try:
        image = await process_off_loop(data, DOCUMENT_MAX_SIDE, uploader=member.id)
    except PhotoRefused as refused:
        reader.errors["image"] = (
            str(refused).replace("a photo", "an image").replace("photo", "image")
        )
    if not reader.ok or image is None:
        return await _my_page(request, reader.errors, reader.form)
    await service.submit_proof(db, member, number=number, expires_on=expires_on, image=image)
    await db.commit()
    flash(request, "Thank you. The Membership Office will check your membership card.")
    return RedirectResponse("/me/membership-proof", status_code=303)


@page(PERMISSION)
async def queue(request: Request) -> Response:
    db: AsyncSession = request.state.db
    no_image = defer(MembershipProof.image)
    pending = (
        await db.execute(
            select(MembershipProof, Member)
            .join(Member, Member.id == MembershipProof.member_id)
            .where(MembershipProof.status == PENDING)
            .order_by(MembershipProof.submitted_at, MembershipProof.id)
            .options(no_image)
        )
    ).all()
    decided = (
        await db.execute(
            select(MembershipProof, Member)
            .join(Member, Member.id == MembershipProof.member_id)
            .where(MembershipProof.status != PENDING)
            .order_by(MembershipProof.decided_at.desc(), MembershipProof.id.desc())
            .limit(RECENT)
            .options(no_image)
        )
    ).all()
    return render(request, "proofs/queue.html", {"pending": pending, "decided": decided})


async def _load(request: Request) -> tuple[MembershipProof, Member]:
    proof_id = parse_id(request.path_params.get("proof_id"))
    db: AsyncSession = request.state.db
    proof = None if proof_id is None else await db.get(MembershipProof, proof_id)
    member = None if proof is None else await db.get(Member, proof.member_id)
    if proof is None or member is None:
        raise HTTPException(404, "There is no such membership proof.")
    return proof, member


@page(PERMISSION)
async def detail(request: Request) -> Response:
    proof, member = await _load(request)
    return await _detail_page(request, proof, member)


async def _detail_page(
    request: Request,
    proof: MembershipProof,
    member: Member,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    """The proof with the verify and reject forms (``errors`` and ``values``: a form sent
    back), or why the viewer may not decide it (an account they may not act on)."""
    db: AsyncSession = request.state.db
    history = [p for p in await service.proofs_of(db, member.id) if p.id != proof.id]
    return render(
        request,
        "proofs/detail.html",
        {
            "proof": proof,
            "member": member,
            "history": history,
            "today": clock.today(request.state.site),
            "account_protected": await refusal(request, member),
            "errors": errors or {},
            "values": values or {},
        },
        status_code=status_code,
    )


def _field_errors(form: FormReader, verify: bool, today: dt.date) -> dict[str, str]:
    """What is missing or wrong in the form, by field (nothing is decided then)."""
    if not verify:
        if not form.text("reason", "Reason", max_length=2000).strip() and not form.errors:
            form.errors["reason"] = "Give the reason for rejecting; the member is emailed it."
        return form.errors
    if not form.text("membership_number", "Membership number", max_length=40).strip():
        form.errors.setdefault(
            "membership_number", "Verifying a membership needs the membership number."
        )
    expires_on = form.date("membership_expires_on", "Membership expiry date")
    if expires_on is None:
        form.errors.setdefault(
            "membership_expires_on", "Verifying a membership needs the expiry date."
        )
    elif expires_on < today:
        form.errors["membership_expires_on"] = (
            f"That membership expired on {expires_on.isoformat()}; "
            "only a current membership can be verified."
        )
    return form.errors


@page(PERMISSION)
async def image(request: Request) -> Response:
    proof, _member = await _load(request)
    return Response(
        proof.image,
        media_type=proof.content_type,
        headers={
            "Cache-Control": "private, no-store",
            "Content-Disposition": "inline",
            **IMAGE_HEADERS,
        },
    )


async def _decide(request: Request, verify: bool) -> Response:
    db: AsyncSession = request.state.db
    proof, member = await _load(request)
    form = FormReader(await request.form())
    back = f"/membership-proofs/{proof.id}"
    proof_version = form.integer("proof_version", "Version", required=True, minimum=1)
    if proof_version is None:
        flash(request, "The form is incomplete — reload the page and try again.", "error")
        return RedirectResponse(back, status_code=303)
    refused = await refusal(request, member)
    if refused:
        flash(request, refused, "error")
        return RedirectResponse(back, status_code=303)
    if proof.is_pending and _field_errors(form, verify, clock.today(request.state.site)):
        fields = ("membership_number", "membership_expires_on") if verify else ("reason",)
        return await _detail_page(
            request,
            proof,
            member,
            errors=dict(form.errors),
            values={name: form.raw(name) for name in fields},
            status_code=400,
        )
    try:
        if verify:
            expires_on = form.date("membership_expires_on", "Membership expiry date")
            member_version = form.integer("version", "Version", required=True, minimum=1)
            if form.errors or member_version is None:
                raise ActionRefused(" ".join(form.errors.values()))
            message = await service.verify_proof(
                db,
                proof,
                member,
                request.state.user,
                proof_version=proof_version,
                member_version=member_version,
                number=form.text("membership_number", "Membership number", max_length=40),
                expires_on=expires_on,
                today=clock.today(request.state.site),
            )
        else:
            message = await service.reject_proof(
                db,
                proof,
                member,
                request.state.user,
                proof_version=proof_version,
                reason=form.text("reason", "Reason", max_length=2000),
            )
        await db.commit()
    except ActionRefused as exc:
        await db.rollback()
        flash(request, exc.message, "error")
        return RedirectResponse(back, status_code=303)
    flash(request, message)
    return RedirectResponse("/membership-proofs", status_code=303)


@page(PERMISSION)
async def verify(request: Request) -> Response:
    return await _decide(request, verify=True)


@page(PERMISSION)
async def reject(request: Request) -> Response:
    return await _decide(request, verify=False)


async def waiting(db: AsyncSession, user: Member, perms: frozenset[str], today: dt.date) -> int:
    """The proofs this officer can decide: not those of accounts above them, which wait
    for someone who may (``server.auth.precedence``)."""
    return await service.pending_count(db, await protected_ids(db, user, perms, today))


# The admin menu's links to this area's pages (``create_app`` adds them).
nav_links = [
    NavLink(
        "Membership proofs",
        "/membership-proofs",
        permission=PERMISSION,
        order=35,
        group=navigation.REGISTER,
        waiting=waiting,
        waiting_label="membership proofs to verify",
        waiting_label_one="membership proof to verify",
    ),
]

routes = [
    Route("/me/membership-proof", my_proof, methods=["GET", "POST"]),
    Route("/membership-proofs", queue, methods=["GET"]),
    Route("/membership-proofs/{proof_id}", detail, methods=["GET"]),
    Route("/membership-proofs/{proof_id}/image", image, methods=["GET"]),
    Route("/membership-proofs/{proof_id}/verify", verify, methods=["POST"]),
    Route("/membership-proofs/{proof_id}/reject", reject, methods=["POST"]),
]
