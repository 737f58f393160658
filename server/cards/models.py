"""Card links (bearer tokens, stored only as hashes), precomputed card payloads, bulk jobs."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.database import Base, utcnow


class CardLink(Base):
    """One emailed card link. The token itself is never stored, only its SHA-256."""

    __tablename__ = "card_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Equal to member_id while the link is live, NULL once revoked: the unique
    # constraint makes "one live link per member" a database fact.
    live_member_id: Mapped[int | None] = mapped_column(Integer, unique=True)
    issued_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    issued_via: Mapped[str] = mapped_column(String(40), default="admin")
    revoked_at: Mapped[dt.datetime | None] = mapped_column()
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    revoke_reason: Mapped[str] = mapped_column(Text, default="")
    last_used_at: Mapped[dt.datetime | None] = mapped_column()

    @property
    def is_live(self) -> bool:
        return self.revoked_at is None


class CardPayload(Base):
    """The card's JSON, computed once and served as is until invalidated.

    ``generation`` grows with every invalidation; a payload computed from older data
    is only stored if the generation it started from is still current.
    """

    __tablename__ = "card_payloads"

    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), primary_key=True)
    generation: Mapped[int] = mapped_column(Integer, default=0)
    # The marshal check code in the payload: the live check trusts exactly this text
    # without signing it again (a code the server made; see server.checks.codes). Kept
    # before ``body``, whose overflow pages a SQLite read would otherwise walk.
    check_code: Mapped[str | None] = mapped_column(String(200))
    body: Mapped[str | None] = mapped_column(Text)
    etag: Mapped[str | None] = mapped_column(String(40))
    # Unix time after which the payload must be recomputed (a date on the card passes,
    # the check code renews); 0 once invalidated.
    valid_until: Mapped[int] = mapped_column(Integer, default=0, index=True)
    # What a marshal's live check shows besides the result (JSON; ``server.cards.builder``).
    check_view: Mapped[str | None] = mapped_column(Text)
    # The newest ``CardEpoch`` when the payload was built; older than the newest: stale.
    epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0", index=True)


class CardEpoch(Base):
    """A change that concerns every card (an app setting, a retired key): one row, not a
    rewrite of every payload. Kept as the history of such changes."""

    __tablename__ = "card_epochs"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    reason: Mapped[str] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))


class CardIssueJob(Base):
    """A bulk issuing run: the admin page polls it for progress."""

    __tablename__ = "card_issue_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branches.id"))
    statuses: Mapped[list[str]] = mapped_column(JSON, default=list)
    replace_existing: Mapped[bool] = mapped_column(Boolean, default=False)
    # running -> finished | failed; a running job without a recent heartbeat was interrupted.
    state: Mapped[str] = mapped_column(String(20), default="running")
    total: Mapped[int] = mapped_column(Integer, default=0)
    done: Mapped[int] = mapped_column(Integer, default=0)
    skipped_deactivated: Mapped[int] = mapped_column(Integer, default=0)
    heartbeat_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column()
    error: Mapped[str] = mapped_column(Text, default="")
