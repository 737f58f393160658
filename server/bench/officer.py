"""The benchmark's staff account: a superuser (every permission: the member register,
status actions, marshal checks), made the way ``manage.py create-admin`` makes one."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from server.audit.log import record
from server.auth.passwords import hash_password
from server.db.engine import make_engine, make_sessionmaker
from server.members.models import Member


@dataclass(frozen=True)
class Officer:
    email: str
    password: str


async def create_officer(database_url: str) -> Officer:
    """A new account (a distinct email on every call)."""
    officer = Officer(
        f"officer-{secrets.token_hex(4)}@bench.example.org", secrets.token_urlsafe(16)
    )
    engine = make_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as db, db.begin():
            member = Member(
                email=officer.email,
                email_key=officer.email,
                sca_name="Bench Officer",
                password_hash=hash_password(officer.password),
                is_superuser=True,
                is_staff=True,
            )
            db.add(member)
            await db.flush()
            record(
                db,
                actor_id=None,
                action="member.create_admin",
                entity=member,
                member_id=member.id,
            )
    finally:
        await engine.dispose()
    return officer
