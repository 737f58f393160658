"""Officers act only on members below them: every action on an account, every role pair.

The roles are the demo's (``tests/role_fixtures.py``). Each test logs one actor in and
tries one action on a member of every role: it must work exactly when the target holds
no permission the actor lacks (and is no superuser, unless the actor is one). A refused
action changes nothing and says why.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
import pytest
from PIL import Image
from sqlalchemy import func, select

from server.cards import link_routes
from server.cards.models import CardLink
from server.checks.models import CodeRevocation
from server.groups.models import GroupMembership
from server.members.models import Branch, Member
from server.photos.images import process
from server.photos.models import MemberPhoto
from server.photos.store import current_photo, save_photo
from server.proofs.models import MembershipProof
from tests.card_fixtures import issued_token, reset_card_limiter
from tests.factories import csrf_from, login
from tests.reload import reload
from tests.role_fixtures import Offices

_reset_card_limiter = reset_card_limiter
TARGETS = ("superuser", "chair", "officer", "marshal", "member")
# Who may act on whom: the actor's role → the target roles they may act on.
MAY_ACT_ON = {
    "superuser": set(TARGETS),
    "chair": {"officer", "member"},
    "officer": {"officer", "member"},
}
PROTECTED_WORDS = ("holds permissions you do not hold", "only a superuser may")


@dataclass
class Scene:
    client: httpx.AsyncClient
    db: object
    settings: object

    async def post(self, path: str, data: dict[str, object], page: str = "/login"):
        token = await csrf_from(self.client, page)
        return await self.client.post(path, data={"csrf_token": token, **data}, files=None)


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (120, 90, 60)).save(out, "JPEG")
    return out.getvalue()


def _edit_data(member: Member, **changes: object) -> dict[str, object]:
    return {
        "version": str(member.version),
        "sca_name": member.sca_name,
        "first_name": member.first_name,
        "last_name": member.last_name,
        "email": member.email,
        "birth_month": str(member.birth_month or ""),
        "birth_year": str(member.birth_year or ""),
        "membership_number": member.membership_number or "",
        "membership_expires_on": str(member.membership_expires_on or ""),
        **changes,
    }


async def _count(db, query) -> int:
    value = await db.scalar(query)
    await db.commit()
    return int(value or 0)


# Each action: (arrange, act) → whether the change happened.
async def edit_email(s: Scene, target: Member) -> tuple[httpx.Response, bool]:
    new = f"taken-over-{target.id}@example.org"
    response = await s.post(f"/members/{target.id}/edit", _edit_data(target, email=new))
    await reload(s.db, target)
    return response, target.email == new


async def deactivate(s: Scene, target: Member) -> tuple[httpx.Response, bool]:
    data = {"version": target.version, "reason": "taking over"}
    response = await s.post(f"/members/{target.id}/deactivate", data)
    await reload(s.db, target)
    return response, target.deactivated_at is not None


async def reactivate(s: Scene, target: Member) -> tuple[httpx.Response, bool]:
    target.deactivated_at = dt.datetime.now(dt.UTC)
    target.deactivation_reason = "by a superuser"
    await s.db.commit()
    response = await s.post(f"/members/{target.id}/reactivate", {"version": target.version})
    await reload(s.db, target)
    return response, target.deactivated_at is None


async def verify(s: Scene, target: Member) -> tuple[httpx.Response, bool]:
    data = {
        "version": target.version,
        "membership_number": "CHANGED-1",
        "membership_expires_on": (dt.date.today() + dt.timedelta(days=30)).isoformat(),
    }
    response = await s.post(f"/members/{target.id}/verify-membership", data)
    await reload(s.db, target)
    return response, target.membership_number == "CHANGED-1"


async def clear(s: Scene, target: Member) -> tuple[httpx.Response, bool]:
    data = {"version": target.version, "reason": "taking over"}
    response = await s.post(f"/members/{target.id}/clear-membership", data)
    await reload(s.db, target)
    return response, target.verified_at is None


async def delete(s: Scene, target: Member) -> tuple[httpx.Response, bool]:
    data = {"reason": "taking over", "confirm": "on"}
    response = await s.post(f"/members/{target.id}/delete", data)
    await reload(s.db, target)
    return response, target.deleted_at is not None


async def photo(s: Scene, target: Member) -> tuple[httpx.Response, bool]:
    token = await csrf_from(s.client, "/login")
    response = await s.client.post(
        f"/members/{target.id}/photo/upload",
        data={"csrf_token": token, "action": "upload"},
        files={"photo": ("me.jpg", _jpeg(), "image/jpeg")},
    )
    query = select(func.count()).select_from(MemberPhoto).where(MemberPhoto.member_id == target.id)
    return response, await _count(s.db, query) == 1


async def revoke_codes(s: Scene, target: Member) -> tuple[httpx.Response, bool]:
    response = await s.post(f"/members/{target.id}/revoke-codes", {"reason": "lost"})
    query = select(func.count()).select_from(CodeRevocation)
    query = query.where(CodeRevocation.member_id == target.id)
    return response, await _count(s.db, query) == 1


async def revoke_card(s: Scene, target: Member) -> tuple[httpx.Response, bool]:
    await issued_token(s.db, s.settings, target)
    response = await s.post(f"/members/{target.id}/card-links/revoke", {"reason": "gone"})
    query = select(func.count()).select_from(CardLink).where(CardLink.live_member_id == target.id)
    return response, await _count(s.db, query) == 0


async def replace_card(s: Scene, target: Member) -> tuple[httpx.Response, bool]:
    """A new link replaces the live one: the member's phone card stops working."""
    await issued_token(s.db, s.settings, target)
    before = await _count(s.db, select(func.count()).select_from(CardLink))
    response = await s.post(f"/members/{target.id}/card-links/replace", {"reason": "new phone"})
    return response, await _count(s.db, select(func.count()).select_from(CardLink)) > before


async def remove_photo(s: Scene, target: Member) -> tuple[httpx.Response, bool]:
    await save_photo(s.db, target.id, process(_jpeg()), target.id)
    await s.db.commit()
    response = await s.post(
        f"/members/{target.id}/photo/upload", {"action": "remove", "confirmed": "yes"}
    )
    return response, await current_photo(s.db, target.id) is None


async def _pending_proof(s: Scene, target: Member) -> MembershipProof:
    photo = process(_jpeg())
    proof = MembershipProof(
        member_id=target.id,
        membership_number="PROOF-1",
        expires_on=dt.date.today() + dt.timedelta(days=200),
        image=photo.data,
        width=photo.width,
        height=photo.height,
    )
    s.db.add(proof)
    await s.db.commit()
    return proof


async def verify_proof(s: Scene, target: Member) -> tuple[httpx.Response, bool]:
    proof = await _pending_proof(s, target)
    data = {
        "proof_version": proof.version,
        "version": target.version,
        "membership_number": "PROOF-1",
        "membership_expires_on": str(proof.expires_on),
    }
    response = await s.post(f"/membership-proofs/{proof.id}/verify", data)
    await reload(s.db, proof)
    return response, proof.status != "pending"


async def reject_proof(s: Scene, target: Member) -> tuple[httpx.Response, bool]:
    proof = await _pending_proof(s, target)
    data = {"proof_version": proof.version, "reason": "blurred"}
    response = await s.post(f"/membership-proofs/{proof.id}/reject", data)
    await reload(s.db, proof)
    return response, proof.status != "pending"


Action = Callable[[Scene, Member], Awaitable[tuple[httpx.Response, bool]]]
ACTIONS: dict[str, Action] = {
    "edit email": edit_email,
    "deactivate": deactivate,
    "reactivate": reactivate,
    "verify membership": verify,
    "clear membership": clear,
    "delete": delete,
    "upload photo": photo,
    "revoke check codes": revoke_codes,
    "revoke card link": revoke_card,
    "replace card link": replace_card,
    "remove photo": remove_photo,
    "verify membership proof": verify_proof,
    "reject membership proof": reject_proof,
}


async def _refusal_shown(s: Scene, response: httpx.Response) -> bool:
    """The reason is on the answer, or flashed on the page it sends the officer back to."""
    text = response.text
    if response.is_redirect:
        text = (await s.client.get(response.headers["location"])).text
    return any(words in text for words in PROTECTED_WORDS)


@pytest.mark.parametrize("actor_role", sorted(MAY_ACT_ON))
@pytest.mark.parametrize("action", sorted(ACTIONS))
async def test_an_actor_acts_only_on_members_below_them(client, db, settings, action, actor_role):
    offices = await Offices.make(db)
    actor = await offices.person(db, actor_role)
    targets = {
        role: await offices.person(db, role)
        for role in TARGETS
        if not (role == actor_role == "chair")  # one chair at a time
    }
    await db.commit()
    await login(client, actor.email)
    scene = Scene(client, db, settings)
    problems = []
    for role, target in targets.items():
        response, changed = await ACTIONS[action](scene, target)
        may = role in MAY_ACT_ON[actor_role] and (action != "delete" or actor_role == "superuser")
        if changed != may:
            problems.append(f"{actor_role} → {role}: {'changed' if changed else 'refused'}")
        elif not may and action != "delete" and not await _refusal_shown(scene, response):
            problems.append(f"{actor_role} → {role}: refused without saying why")
    assert not problems, f"{action}: " + "; ".join(problems)


async def test_the_edit_page_and_member_page_show_why_instead_of_the_controls(client, db):
    offices = await Offices.make(db)
    officer = await offices.person(db, "officer")
    marshal = await offices.person(db, "marshal")
    member = await offices.person(db, "member")
    await db.commit()
    await login(client, officer.email)
    edit = await client.get(f"/members/{marshal.id}/edit")
    assert edit.status_code == 403
    assert "Check member cards as a marshal" in edit.text
    page = (await client.get(f"/members/{marshal.id}")).text
    assert f'href="/members/{marshal.id}/edit"' not in page
    assert "holds permissions you do not hold" in page
    assert f'href="/members/{marshal.id}/deactivate"' not in page
    below = (await client.get(f"/members/{member.id}")).text
    assert f'href="/members/{member.id}/edit"' in below
    assert f'href="/members/{member.id}/deactivate"' in below


async def test_a_chair_ends_office_memberships_below_them_only(client, db):
    offices = await Offices.make(db)
    chair = await offices.person(db, "chair")
    officer = await offices.person(db, "officer")
    marshal = await offices.person(db, "marshal")
    await db.commit()
    await login(client, chair.email)
    memberships = {
        m.member_id: m
        for m in (await db.execute(select(GroupMembership))).scalars()
        if m.member_id in (officer.id, marshal.id)
    }
    await db.commit()
    scene = Scene(client, db, None)
    today = dt.date.today().isoformat()
    # The Marshallate's marshal holds check_cards, which the chair does not.
    refused = await scene.post(
        f"/groups/{offices.marshallate.id}/memberships/{memberships[marshal.id].id}/end",
        {"until": today},
    )
    assert refused.status_code == 403 and "holds permissions you do not hold" in refused.text
    edit = await client.get(
        f"/groups/{offices.marshallate.id}/memberships/{memberships[marshal.id].id}/edit"
    )
    assert edit.status_code == 403
    ended = await scene.post(
        f"/groups/{offices.office.id}/memberships/{memberships[officer.id].id}/end",
        {"until": today},
    )
    assert ended.status_code == 303
    await reload(db, memberships[marshal.id], memberships[officer.id])
    assert memberships[marshal.id].until is None
    assert memberships[officer.id].until == dt.date.today()


async def test_standing_counts_what_a_member_was_granted_not_what_they_may_use_today(client, db):
    """A deactivated or lapsed marshal keeps their protection: nothing an officer may do
    to them lowers it far enough to take the account."""
    offices = await Offices.make(db)
    officer = await offices.person(db, "officer")
    lapsed = await offices.person(
        db, "marshal", membership_expires_on=dt.date.today() - dt.timedelta(days=1)
    )
    deactivated = await offices.person(db, "marshal", deactivated_at=dt.datetime.now(dt.UTC))
    await db.commit()
    await login(client, officer.email)
    scene = Scene(client, db, None)
    for target in (lapsed, deactivated):
        response, changed = await edit_email(scene, target)
        assert not changed and response.status_code == 403


@pytest.mark.parametrize("actor_role", ["officer", "superuser"])
async def test_a_bulk_card_run_replaces_only_the_links_of_members_below_the_officer(
    client, db, settings, actor_role
):
    """Bulk issuing with "replace existing links" revokes each live link: an officer's
    run leaves out the members above them (they keep their card); a superuser's, nobody."""
    offices = await Offices.make(db)
    branch = Branch(name="Shire of Ranks")
    db.add(branch)
    await db.flush()
    actor = await offices.person(db, actor_role, branch_id=branch.id)
    targets = {role: await offices.person(db, role, branch_id=branch.id) for role in TARGETS}
    await db.commit()
    for target in targets.values():
        await issued_token(db, settings, target)
    live_before = {
        member_id: link_id
        for member_id, link_id in await db.execute(
            select(CardLink.live_member_id, CardLink.id).where(CardLink.live_member_id.is_not(None))
        )
    }
    await db.commit()
    await login(client, actor.email)
    scene = Scene(client, db, settings)
    response = await scene.post("/cards/bulk", {"branch_id": str(branch.id), "replace": "on"})
    assert response.status_code == 303 and response.headers["location"] != "/cards/bulk"
    await asyncio.gather(*link_routes._RUNNING)
    live_after = dict(
        (
            await db.execute(
                select(CardLink.live_member_id, CardLink.id).where(
                    CardLink.live_member_id.is_not(None)
                )
            )
        ).all()
    )
    await db.commit()
    replaced = {role for role, t in targets.items() if live_after[t.id] != live_before[t.id]}
    expected = set(TARGETS) if actor_role == "superuser" else MAY_ACT_ON["officer"]
    assert replaced == expected
