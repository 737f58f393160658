"""The demo's roles, for tests of who may act on whose account.

- ``superuser``: the demo admin;
- ``officer``: the Deputy Membership Officer (frida5 in the demo): a Membership Office
  member without chair permissions (``manage_members``, ``verify_members``,
  ``issue_card_links``);
- ``chair``: the Kingdom Membership Officer, the same office's chair (adds
  ``manage_groups`` and ``view_reports``);
- ``marshal``: a Marshallate member (``check_cards``);
- ``member``: a plain member.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from server.groups.models import Group, GroupMembership
from server.members.models import Member
from tests.factories import make_group, make_member

OFFICE = ["manage_members", "verify_members", "issue_card_links"]
OFFICE_CHAIR = ["manage_groups", "view_reports"]
MARSHALLATE = ["check_cards"]
ROLES = ("superuser", "officer", "chair", "marshal", "member")


def _verified() -> dict[str, object]:
    return {
        "membership_number": f"M-{dt.datetime.now().timestamp():.6f}",
        "membership_expires_on": dt.date.today() + dt.timedelta(days=365),
        "verified_at": dt.datetime.now(dt.UTC),
    }


class Offices:
    """The Membership Office and the Marshallate of one test's database."""

    def __init__(self, office: Group, marshallate: Group) -> None:
        self.office = office
        self.marshallate = marshallate

    @classmethod
    async def make(cls, db: AsyncSession) -> Offices:
        office = await make_group(
            db, "Membership Office", permissions=OFFICE, chair_permissions=OFFICE_CHAIR
        )
        marshallate = await make_group(db, "Marshallate", permissions=MARSHALLATE)
        return cls(office, marshallate)

    async def person(self, db: AsyncSession, role: str, **kw: object) -> Member:
        """A verified adult in ``role`` (see the module docstring)."""
        values = {**_verified(), **kw}
        if role == "superuser":
            return await make_member(db, is_superuser=True, is_staff=True, **values)
        if role == "member":
            return await make_member(db, **values)
        member = await make_member(db, is_staff=True, **values)
        group = self.marshallate if role == "marshal" else self.office
        db.add(
            GroupMembership(
                group_id=group.id,
                member_id=member.id,
                since=dt.date(2000, 1, 1),
                is_chair=role == "chair",
                role=role,
            )
        )
        await db.flush()
        return member
