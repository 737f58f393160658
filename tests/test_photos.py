"""Photo upload: validated, re-encoded, downscaled, metadata stripped; who may upload."""

from __future__ import annotations

import datetime as dt
import io
import random

import pytest
from PIL import Image
from sqlalchemy import select

from server.photos.images import PhotoRefused, process
from server.photos.models import MemberPhoto
from tests.factories import csrf_from, login, make_member, make_staff


def jpeg_bytes(size=(1600, 1200), exif: bool = True) -> bytes:
    image = Image.new("RGB", size, (200, 30, 30))
    out = io.BytesIO()
    if exif:
        data = Image.Exif()
        data[0x010F] = "SecretCam"  # Make
        data[0x0112] = 6  # Orientation: rotate 90°
        image.save(out, "JPEG", exif=data.tobytes(), comment=b"gps here")
    else:
        image.save(out, "JPEG")
    return out.getvalue()


def camera_jpeg_bytes() -> bytes:
    """A 6-megapixel photo as a phone sends it: noisy (about 3.6 MB as a JPEG), with EXIF."""
    size = (3000, 2000)
    image = Image.frombytes("RGB", size, random.Random(0).randbytes(size[0] * size[1] * 3))
    data = Image.Exif()
    data[0x010F] = "SecretCam"  # Make
    data[0x0112] = 6  # Orientation: rotate 90°
    out = io.BytesIO()
    image.save(out, "JPEG", exif=data.tobytes(), comment=b"gps here")
    return out.getvalue()


def png_bytes() -> bytes:
    image = Image.new("RGBA", (300, 500), (0, 0, 255, 0))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def test_jpeg_is_reencoded_downscaled_upright_and_stripped():
    photo = process(jpeg_bytes())
    assert b"SecretCam" not in photo.data and b"gps here" not in photo.data
    image = Image.open(io.BytesIO(photo.data))
    assert image.format == "JPEG"
    assert not image.getexif()
    assert (image.width, image.height) == (360, 480)  # rotated upright, fits 480
    assert (photo.width, photo.height) == (360, 480)


def test_png_with_transparency_becomes_a_jpeg_on_white():
    photo = process(png_bytes())
    image = Image.open(io.BytesIO(photo.data))
    assert image.format == "JPEG" and image.mode == "RGB"
    assert image.getpixel((10, 10))[0] > 240


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "Choose a photo"),
        (b"GIF89a" + b"\x00" * 100, "not a JPEG or PNG"),
        (b"%PDF-1.4 hello", "not a JPEG or PNG"),
        (jpeg_bytes()[:400], "damaged or incomplete"),
        (b"\xff\xd8" + b"\x00" * (5 * 1024 * 1024), "larger than 5 MB"),
    ],
)
def test_bad_uploads_are_refused_with_a_reason(data, message):
    with pytest.raises(PhotoRefused, match=message):
        process(data)


def test_gif_is_refused_even_if_valid():
    out = io.BytesIO()
    Image.new("RGB", (10, 10)).save(out, "GIF")
    with pytest.raises(PhotoRefused, match="not a JPEG or PNG"):
        process(out.getvalue())


async def _upload(
    client, member_id: int, data: bytes, name: str = "me.jpg", form_of: int | None = None
):
    """Upload ``data`` as ``member_id``'s photo, with the form of that member's page (or,
    forged, of ``form_of``'s: when the member's own page is refused)."""
    token = await csrf_from(client, f"/members/{form_of or member_id}/photo/upload")
    return await client.post(
        f"/members/{member_id}/photo/upload",
        data={"csrf_token": token, "action": "upload"},
        files={"photo": (name, data, "image/jpeg")},
    )


async def test_member_uploads_own_photo_and_replacing_keeps_history(client, db):
    member = await make_member(db)
    await db.commit()
    await login(client, member.email)
    big = camera_jpeg_bytes()
    assert 1024 * 1024 < len(big) < 5 * 1024 * 1024
    response = await _upload(client, member.id, big)
    assert response.status_code == 303
    shown = await client.get(f"/members/{member.id}/photo")
    assert shown.status_code == 200 and shown.headers["content-type"] == "image/jpeg"
    assert len(shown.content) < 100 * 1024 and b"SecretCam" not in shown.content
    assert Image.open(io.BytesIO(shown.content)).size == (320, 480)  # upright, fits 480
    etag = shown.headers["etag"]
    again = await client.get(f"/members/{member.id}/photo", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert (await _upload(client, member.id, jpeg_bytes(exif=False))).status_code == 303
    rows = (await db.execute(select(MemberPhoto).order_by(MemberPhoto.id))).scalars().all()
    assert len(rows) == 2 and rows[0].replaced_at is not None and rows[1].replaced_at is None


async def test_removing_the_photo_asks_first_and_keeps_it_in_the_history(client, db):
    member = await make_member(db)
    await db.commit()
    await login(client, member.email)
    assert (await _upload(client, member.id, jpeg_bytes(exif=False))).status_code == 303
    page = f"/members/{member.id}/photo/upload"
    token = await csrf_from(client, page)

    # The button on the page asks; nothing is removed yet.
    asked = await client.post(page, data={"csrf_token": token, "action": "remove"})
    assert asked.status_code == 200 and "Remove the photo?" in asked.text
    assert 'name="confirmed" value="yes"' in asked.text
    assert (await client.get(f"/members/{member.id}/photo")).status_code == 200

    done = await client.post(
        page, data={"csrf_token": token, "action": "remove", "confirmed": "yes"}
    )
    assert done.status_code == 303
    assert (await client.get(f"/members/{member.id}/photo")).status_code == 404
    await db.commit()
    [row] = (await db.execute(select(MemberPhoto))).scalars().all()
    assert row.replaced_at is not None  # kept, marked replaced


async def test_a_parent_changes_a_minors_photo_until_the_child_turns_18(client, db):
    today = dt.date.today()
    parent = await make_member(db, sca_name="Parent Pat")
    child = await make_member(
        db, parent_id=parent.id, birth_year=today.year - 9, birth_month=today.month
    )
    # Turned 18 on the 1st of this month; the nightly run has not recorded it yet.
    grown = await make_member(
        db, parent_id=parent.id, birth_year=today.year - 18, birth_month=today.month
    )
    await db.commit()
    await login(client, parent.email)
    assert (await _upload(client, child.id, jpeg_bytes(exif=False))).status_code == 303
    assert (await client.get(f"/members/{grown.id}/photo/upload")).status_code == 403
    refused = await _upload(client, grown.id, jpeg_bytes(exif=False), form_of=child.id)
    assert refused.status_code == 403
    await db.commit()
    owners = (await db.execute(select(MemberPhoto.member_id))).scalars().all()
    assert owners == [child.id]


async def test_an_officer_parent_of_a_grown_child_above_them_is_refused(client, db):
    """A parent who is also a membership officer: once the child has turned 18 (the
    nightly run has not ended the link yet), the child's photo is theirs to change only
    as an officer, and the child holds a permission the parent lacks."""
    today = dt.date.today()
    parent = await make_staff(db, ["manage_members"], sca_name="Officer Parent")
    grown = await make_staff(
        db,
        ["manage_groups"],
        parent_id=parent.id,
        birth_year=today.year - 18,
        birth_month=today.month,
    )
    await db.commit()
    await login(client, parent.email)
    refused = await _upload(client, grown.id, jpeg_bytes(exif=False), form_of=parent.id)
    assert refused.status_code == 403
    await db.commit()
    assert (await db.execute(select(MemberPhoto))).first() is None


async def test_upload_of_a_large_file_passes_csrf_and_is_refused_with_message(client, db):
    member = await make_member(db)
    await db.commit()
    await login(client, member.email)
    response = await _upload(client, member.id, b"\x89PNG" + b"\x00" * (2 * 1024 * 1024))
    assert response.status_code == 400
    assert "not a JPEG or PNG" in response.text
    assert (await db.execute(select(MemberPhoto))).first() is None


async def test_other_member_may_not_upload_but_manage_members_may(client, db):
    member = await make_member(db)
    other = await make_member(db)
    office = await make_staff(db, ["manage_members"])
    await db.commit()
    await login(client, other.email)
    assert (await client.get(f"/members/{member.id}/photo/upload")).status_code == 403
    assert (await client.get(f"/members/{member.id}/photo")).status_code == 403
    client.cookies.clear()
    await login(client, office.email)
    assert (await _upload(client, member.id, png_bytes())).status_code == 303
    assert (await client.get(f"/members/{member.id}/photo")).status_code == 200


async def test_profile_and_member_page_link_to_the_photo_and_checks(client, db):
    member = await make_member(db)
    office = await make_staff(db, ["manage_members", "view_reports"])
    await db.commit()
    await login(client, member.email)
    me = await client.get("/me")
    assert 'href="/me/photo"' in me.text
    assert (
        (await client.get("/me/photo"))
        .headers["location"]
        .endswith(f"/members/{member.id}/photo/upload")
    )
    client.cookies.clear()
    await login(client, office.email)
    detail = await client.get(f"/members/{member.id}")
    assert f'href="/members/{member.id}/photo/upload"' in detail.text
    assert f'href="/checks/member/{member.id}"' in detail.text
