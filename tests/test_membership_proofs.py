"""Membership proof from the member (issue 15, item 6): upload on /me, the office's
verification queue (the image for the office only), verify or reject with a reason the
member is emailed; every upload and decision kept."""

from __future__ import annotations

import datetime as dt
import io
import re

import httpx
import pytest
from PIL import Image
from sqlalchemy import select

from server.audit.models import AuditEntry
from server.mail.models import OutboxMessage
from server.proofs.models import MembershipProof
from tests.db_fixtures import until_someone_waits_for_a_lock
from tests.factories import csrf_from, login, make_member, make_staff
from tests.test_photos import camera_jpeg_bytes, jpeg_bytes

TODAY = dt.date.today()
NEXT_YEAR = TODAY + dt.timedelta(days=365)


@pytest.fixture
async def office(app):
    transport = httpx.ASGITransport(app=app, client=("127.0.0.3", 50002))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def _upload(client, data: bytes, number: str = "S-12345", expires: str = ""):
    token = await csrf_from(client, "/me/membership-proof")
    return await client.post(
        "/me/membership-proof",
        data={"csrf_token": token, "membership_number": number, "expires_on": expires},
        files={"image": ("card.jpg", data, "image/jpeg")},
    )


async def _proofs(db) -> list[MembershipProof]:
    rows = list((await db.execute(select(MembershipProof).order_by(MembershipProof.id))).scalars())
    for row in rows:
        await db.refresh(row)
    await db.commit()
    return rows


async def _decide(client, proof: MembershipProof, action: str, **data):
    token = await csrf_from(client, f"/membership-proofs/{proof.id}")
    return await client.post(
        f"/membership-proofs/{proof.id}/{action}",
        data={"csrf_token": token, "proof_version": proof.version, **data},
    )


def _field(page: str, name: str) -> str:
    """The field ``name`` on ``page`` as a screen reader meets it: its control (which must
    be aria-invalid) and the text of every element it is described by."""
    control = re.search(rf'<(input|textarea)[^>]*\bid="f-{name}"[^>]*>', page)
    assert control, f"no field {name}"
    tag = control.group(0)
    assert 'aria-invalid="true"' in tag, tag
    described = re.search(r'aria-describedby="([^"]+)"', tag)
    assert described, tag
    texts = [
        re.search(rf'id="{ref}"[^>]*>([^<]*)<', page).group(1) for ref in described.group(1).split()
    ]
    return tag + " " + " ".join(texts)


async def _setup(client, office, db):
    member = await make_member(db, email="member@example.org")
    officer = await make_staff(db, ["verify_members"])
    await db.commit()
    await login(client, member.email)
    await login(office, officer.email)
    return member, officer


async def test_member_uploads_and_the_office_verifies(client, office, db):
    member, officer = await _setup(client, office, db)
    # A phone photo of the card: several megabytes, with the camera's metadata.
    response = await _upload(client, camera_jpeg_bytes(), expires=NEXT_YEAR.isoformat())
    assert response.status_code == 303
    [proof] = await _proofs(db)
    assert proof.status == "pending" and proof.membership_number == "S-12345"
    assert proof.expires_on == NEXT_YEAR
    # Re-encoded like a photo: a fresh JPEG without the camera's metadata.
    image = Image.open(io.BytesIO(proof.image))
    assert image.format == "JPEG" and max(image.size) == 1600  # the number stays legible
    assert b"SecretCam" not in proof.image and b"gps here" not in proof.image
    me = await client.get("/me")
    assert "waiting for the Membership Office" in me.text
    # Only the office sees the image.
    assert (await client.get(f"/membership-proofs/{proof.id}/image")).status_code == 403
    assert (await client.get("/membership-proofs")).status_code == 403
    shown = await office.get(f"/membership-proofs/{proof.id}/image")
    assert shown.status_code == 200 and shown.headers["content-type"] == "image/jpeg"
    assert "no-store" in shown.headers["cache-control"]
    queue = await office.get("/membership-proofs")
    assert member.display_name in queue.text and "Waiting (1)" in queue.text

    response = await _decide(
        office,
        proof,
        "verify",
        version=member.version,
        membership_number="S-12345",
        membership_expires_on=NEXT_YEAR.isoformat(),
    )
    assert response.status_code == 303
    assert "Membership verified" in (await office.get(response.headers["location"])).text
    await db.refresh(member)
    await db.commit()
    [proof] = await _proofs(db)
    assert member.status == "verified" and member.membership_expires_on == NEXT_YEAR
    assert member.verified_by_id == officer.id
    assert proof.status == "verified" and proof.decided_by_id == officer.id
    actions = set(
        (await db.execute(select(AuditEntry.action).where(AuditEntry.member_id == member.id)))
        .scalars()
        .all()
    )
    assert {
        "membership_proof.submit",
        "membership_proof.verify",
        "member.verify_membership",
    } <= actions
    # A second decision on a decided proof changes nothing.
    response = await _decide(office, proof, "reject", reason="oops")
    page = await office.get(response.headers["location"])
    assert "already verified" in page.text
    assert (await _proofs(db))[0].status == "verified"


async def test_rejecting_needs_a_reason_which_the_member_is_emailed(client, office, db):
    member, _officer = await _setup(client, office, db)
    await _upload(client, jpeg_bytes(exif=False))
    [proof] = await _proofs(db)
    response = await _decide(office, proof, "reject", reason="  ")
    assert response.status_code == 400  # the page again, the error at the reason
    assert "Give the reason" in _field(response.text, "reason")
    assert (await _proofs(db))[0].status == "pending"

    await _decide(office, proof, "reject", reason="The picture is too blurry to read.")
    [proof] = await _proofs(db)
    assert proof.status == "rejected" and proof.reject_reason.startswith("The picture")
    [mail] = (
        await db.execute(
            select(OutboxMessage).where(OutboxMessage.kind == "membership_proof_rejected")
        )
    ).scalars()
    assert mail.to_addr == member.email and "too blurry" in mail.body_text
    mine = await client.get("/me/membership-proof")
    assert "could not be verified: The picture is too blurry to read." in mine.text
    await db.refresh(member)
    await db.commit()  # end the read snapshot
    assert member.status == "active" and member.verified_at is None

    # A new upload is a new proof; the rejected one stays as history.
    await _upload(client, jpeg_bytes(exif=False), number="S-99")
    rejected, pending = await _proofs(db)
    assert (rejected.status, pending.status) == ("rejected", "pending")
    detail = await office.get(f"/membership-proofs/{pending.id}")
    assert "Earlier proofs of this member" in detail.text and "too blurry" in detail.text


async def test_a_newer_upload_replaces_a_pending_one(client, office, db):
    await _setup(client, office, db)
    await _upload(client, jpeg_bytes(exif=False), number="OLD")
    await _upload(client, jpeg_bytes(exif=False), number="NEW")
    old, new = await _proofs(db)
    assert (old.status, new.status) == ("replaced", "pending")
    queue = await office.get("/membership-proofs")
    assert "Waiting (1)" in queue.text
    response = await _decide(office, old, "verify", version=1, membership_number="OLD")
    assert "already replaced" in (await office.get(response.headers["location"])).text


async def test_a_bad_upload_is_refused_at_its_field_and_stores_nothing(client, office, db):
    await _setup(client, office, db)
    response = await _upload(client, b"this is not an image", number="")
    assert response.status_code == 400
    assert re.search(r'id="f-image"[^>]*aria-invalid="true"', response.text, re.S)
    assert re.search(r'id="f-membership_number"[^>]*aria-invalid="true"', response.text, re.S)
    assert "not a JPEG or PNG image" in response.text
    assert await _proofs(db) == []


async def test_the_dashboard_counts_proofs_for_the_office_only(client, office, db):
    member, _officer = await _setup(client, office, db)
    other = await make_staff(db, ["issue_card_links"])
    await db.commit()
    await _upload(client, jpeg_bytes(exif=False))
    home = await office.get("/")
    assert re.search(
        r'href="/membership-proofs">.*?>1<.*?membership proof to verify', home.text, re.S
    )
    await login(client, other.email)
    home = await client.get("/")
    assert "/membership-proofs" not in home.text


async def test_a_wrong_verification_is_refused_at_its_fields_keeping_what_was_typed(
    client, office, db
):
    member, _officer = await _setup(client, office, db)
    await _upload(client, jpeg_bytes(exif=False), number="S-777")
    [proof] = await _proofs(db)
    last_year = (TODAY - dt.timedelta(days=365)).isoformat()
    response = await _decide(
        office,
        proof,
        "verify",
        version=member.version,
        membership_number="S-778",
        membership_expires_on=last_year,
    )
    assert response.status_code == 400
    assert 'id="error-summary"' in response.text
    date_field = _field(response.text, "membership_expires_on")
    assert f"expired on {last_year}" in date_field and f'value="{last_year}"' in date_field
    assert 'value="S-778"' in response.text  # the officer's correction is kept
    response = await _decide(
        office,
        proof,
        "verify",
        version=member.version,
        membership_number=" ",
        membership_expires_on=NEXT_YEAR.isoformat(),
    )
    assert response.status_code == 400
    assert "membership number" in _field(response.text, "membership_number")
    [proof] = await _proofs(db)
    await db.refresh(member)
    await db.commit()
    assert proof.status == "pending" and member.status != "verified"


async def test_a_proof_of_an_account_the_officer_may_not_act_on_offers_no_decision(
    client, office, db
):
    chair = await make_staff(db, ["verify_members", "manage_groups"], email="chair@example.org")
    deputy = await make_staff(db, ["verify_members"])
    await db.commit()
    await login(client, chair.email)
    await login(office, deputy.email)
    await _upload(client, jpeg_bytes(exif=False))
    [proof] = await _proofs(db)
    page = await office.get(f"/membership-proofs/{proof.id}")
    assert page.status_code == 200
    assert "holds permissions you do not hold" in page.text
    assert f"/membership-proofs/{proof.id}/verify" not in page.text
    assert f"/membership-proofs/{proof.id}/reject" not in page.text
    # The deputy's dashboard counts no work they cannot do; the chair's superior would.
    home = await office.get("/")
    assert re.search(
        r'href="/membership-proofs">.*?>0<.*?membership proofs to verify', home.text, re.S
    )


@pytest.mark.postgres_only
async def test_an_upload_sent_twice_at_once_leaves_one_pending_proof(app, db):
    """A double click on "Send": the second upload waits for the first, then replaces it
    (without the wait both stayed pending and the office saw the member twice)."""
    import asyncio

    from server.photos.images import process
    from server.proofs import service

    member = await make_member(db)
    await db.commit()
    image = process(jpeg_bytes(exif=False), 1600)
    sm = app.state.sessionmaker

    async def upload(number: str) -> None:
        async with sm() as session:
            owner = await session.get(type(member), member.id)
            await service.submit_proof(session, owner, number=number, expires_on=None, image=image)
            await session.commit()

    async with sm() as first:
        owner = await first.get(type(member), member.id)
        await service.submit_proof(first, owner, number="FIRST", expires_on=None, image=image)
        second = asyncio.create_task(upload("SECOND"))
        await until_someone_waits_for_a_lock(db, unless=second)
        await first.commit()
    await second
    proofs = await _proofs(db)
    assert [(p.membership_number, p.status) for p in proofs] == [
        ("FIRST", "replaced"),
        ("SECOND", "pending"),
    ]
