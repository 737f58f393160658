"""Photo pages: upload (the member, their parent, or staff with ``manage_members``) and view.

A marshal sees a photo only inside a check answer (``/check/{code}`` carries it inline),
never by member id here. Staff change the photo only of members below them
(``server.auth.precedence``).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from server import clock
from server.auth.guards import page
from server.auth.precedence import require_may_act
from server.members.models import Member
from server.members.status import is_adult
from server.photos.images import MAX_UPLOAD_BYTES, PhotoBusy, PhotoRefused, process_off_loop
from server.photos.store import current_photo, remove_photo, save_photo
from server.web.headers import IMAGE_HEADERS
from server.web.templating import flash, render


async def _member(request: Request) -> Member:
    db: AsyncSession = request.state.db
    member = await db.get(Member, request.path_params["member_id"])
    if member is None or member.is_deleted:
        raise HTTPException(404, "There is no such member.")
    return member


def _own_or_childs(request: Request, member: Member) -> bool:
    """The member themself, or the parent of a minor (by birth date today: a child who
    turned 18 this morning is no longer their parent's to change, whatever the nightly
    run has recorded yet)."""
    user = request.state.user
    if user.id == member.id:
        return True
    today = clock.today(request.state.site)
    return member.parent_id == user.id and not is_adult(
        member.birth_month, member.birth_year, today
    )


def _may_edit(request: Request, member: Member) -> bool:
    """``_own_or_childs``, or staff with ``manage_members``."""
    staff = request.state.is_staff and "manage_members" in request.state.perms
    return staff or _own_or_childs(request, member)


def _back(request: Request, member: Member) -> str:
    return "/me" if request.state.user.id == member.id else f"/members/{member.id}"


@page()
async def photo(request: Request) -> Response:
    member = await _member(request)
    if not _may_edit(request, member):
        raise HTTPException(403, "You may not see this member's photo.")
    current = await current_photo(request.state.db, member.id)
    if current is None:
        raise HTTPException(404, "This member has no photo.")
    etag = f'"{current.digest}"'
    headers = {"ETag": etag, "Cache-Control": "private, max-age=300", **IMAGE_HEADERS}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(current.image, media_type=current.content_type, headers=headers)


@page()
async def upload(request: Request) -> Response:
    member = await _member(request)
    if not _may_edit(request, member):
        raise HTTPException(403, "You may change only your own photo (or your child's).")
    if not _own_or_childs(request, member):  # as staff: only on members below them
        await require_may_act(request, member)
    db = request.state.db
    error = ""
    status = 200
    confirm_removal = False
    if request.method == "POST":
        # Leaving the block closes the upload (over 1 MB it is a temporary file on disk).
        async with request.form(max_part_size=MAX_UPLOAD_BYTES + 1024) as form:
            action = form.get("action")
            confirmed = form.get("confirmed") == "yes"
            file = form.get("photo")
            data = await file.read(MAX_UPLOAD_BYTES + 1) if isinstance(file, UploadFile) else b""
        if action == "remove" and not confirmed:
            confirm_removal = True  # one click is not enough: the page asks (no JS needed)
        elif action == "remove":
            removed = await remove_photo(db, member.id, request.state.user.id)
            await db.commit()
            flash(request, "Photo removed." if removed else "There was no photo to remove.")
            return RedirectResponse(_back(request, member), status_code=303)
        else:
            try:
                processed = await process_off_loop(data, uploader=request.state.user.id)
            except PhotoRefused as refused:
                error, status = str(refused), 503 if isinstance(refused, PhotoBusy) else 400
            else:
                await save_photo(db, member.id, processed, request.state.user.id)
                await db.commit()
                flash(request, "Photo saved. It shows on the card and to marshals at a check.")
                return RedirectResponse(_back(request, member), status_code=303)
    has_photo = await current_photo(db, member.id) is not None
    return render(
        request,
        "photos/upload.html",
        {
            "member": member,
            "has_photo": has_photo,
            "confirm_removal": confirm_removal,
            "error": error,
            "back": _back(request, member),
        },
        status_code=status,
    )


@page()
async def my_photo(request: Request) -> Response:
    return RedirectResponse(f"/members/{request.state.user.id}/photo/upload", status_code=303)


routes = [
    Route("/members/{member_id:int}/photo", photo, methods=["GET"]),
    Route("/members/{member_id:int}/photo/upload", upload, methods=["GET", "POST"]),
    Route("/me/photo", my_photo, methods=["GET"]),
]
