from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

from sqlalchemy import func, select

from server.cards.models import CardLink
from server.db.engine import make_engine, make_sessionmaker
from tests.factories import make_branch, make_member
from tests.live import run_manage_each


def _manage(
    database_url: str, tmp_path: Path, *calls: list[str]
) -> list[subprocess.CompletedProcess[str]]:
    """``manage.py ARGS`` for each of ``calls``, in order, in one process
    (``run_manage_each``: each command's answer is the point, not its process)."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "TESSERA_DATA_DIR": str(tmp_path),
        "SECRET_KEY": "command-test-secret-" + "z" * 32,
        "BASE_URL": "https://cards.example.org",
    }
    env.pop("SMTP_URL", None)
    return run_manage_each(*((env, call) for call in calls))


async def _seed(database_url: str) -> str:
    engine = make_engine(database_url)
    async with make_sessionmaker(engine)() as db:
        shire = await make_branch(db, "Shire of Commands")
        for _ in range(3):
            await make_member(db, branch_id=shire.id)
        other = await make_member(db, email="single@example.org")
        await db.commit()
        email = other.email
    await engine.dispose()
    return email


async def _live_links(database_url: str) -> int:
    engine = make_engine(database_url)
    async with make_sessionmaker(engine)() as db:
        count = await db.scalar(
            select(func.count()).select_from(CardLink).where(CardLink.revoked_at.is_(None))
        )
    await engine.dispose()
    return int(count or 0)


def test_issue_cards_issue_card_and_send_mail(database_url, tmp_path):
    email = asyncio.run(_seed(database_url))

    (bulk,) = _manage(database_url, tmp_path, ["issue-cards", "--branch", "Shire of Commands"])
    assert bulk.returncode == 0, bulk.stderr
    assert "Issued 3 card links" in bulk.stdout
    assert "3/3" in bulk.stderr and "#" in bulk.stderr  # the progress bar
    assert asyncio.run(_live_links(database_url)) == 3

    one, missing, bad, sent = _manage(
        database_url,
        tmp_path,
        ["issue-card", email.upper()],
        ["issue-card", "nobody@example.org"],
        ["issue-cards", "--status", "bogus"],
        ["send-mail"],
    )
    assert one.returncode == 0, one.stderr
    assert "Issued a new card link" in one.stdout
    assert asyncio.run(_live_links(database_url)) == 4  # the commands after it issue none

    assert missing.returncode == 1 and "No member with the email" in missing.stderr
    assert bad.returncode == 2 and "Unknown status" in bad.stderr

    assert sent.returncode == 0, sent.stderr
    assert "sent 4" in sent.stdout
    assert sent.stdout.count("https://cards.example.org/card/") == 4
