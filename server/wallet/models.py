"""Wallet passes, the Apple devices registered for them, and the delivery outbox."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.database import Base, utcnow


class WalletPass(Base):
    """One pass of one card link in one wallet ("apple" or "google").

    What it shows is ``content`` (JSON, with its check code); ``tag`` grows whenever
    that changes or the pass is voided (Apple's ``passesUpdatedSince`` compares tags).
    ``seen_generation``/``seen_epoch`` are the card payload's generation and the card
    epoch the content was computed from: a card invalidation moves those, and the pass
    is then recomputed (``server.wallet.refresh``). Never deleted: voided, with who,
    when and why.
    """

    __tablename__ = "wallet_passes"
    __table_args__ = (
        UniqueConstraint("card_link_id", "wallet", name="uq_wallet_passes_link_wallet"),
        Index("ix_wallet_passes_live", "voided_at", "recheck_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    card_link_id: Mapped[int] = mapped_column(ForeignKey("card_links.id"))
    wallet: Mapped[str] = mapped_column(String(10))  # apple | google
    serial: Mapped[str] = mapped_column(String(64), unique=True)
    # Apple: SHA-256 of the pass's authenticationToken (the token itself is never stored).
    auth_token_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    content: Mapped[str] = mapped_column(Text, default="")
    content_hash: Mapped[str] = mapped_column(String(64), default="")
    # The check code the pass shows (its own: ``server.wallet.content.pass_shift``); a
    # voided pass keeps its last one, which the check then refuses as revoked.
    check_code: Mapped[str | None] = mapped_column(String(200))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    tag: Mapped[int] = mapped_column(BigInteger, default=0, index=True)
    seen_generation: Mapped[int] = mapped_column(Integer, default=-1)
    seen_epoch: Mapped[int] = mapped_column(Integer, default=-1)
    # When to look again even if nothing was invalidated (the day turns; the code renews).
    recheck_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_fetched_at: Mapped[dt.datetime | None] = mapped_column()
    voided_at: Mapped[dt.datetime | None] = mapped_column()
    voided_by_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"))
    void_reason: Mapped[str] = mapped_column(Text, default="")

    @property
    def is_live(self) -> bool:
        return self.voided_at is None


class WalletPassCode(Base):
    """A check code a pass showed before it was given another (the membership was
    renewed, the signing key rotated, the code renewed before running out).

    A phone that was offline since then, or a copy of the earlier pass, still shows it,
    and it stays valid until it runs out: once the pass is voided the check refuses these
    too (``server.checks.lookup``, the offline scanners' revocation list). Kept until the
    code has run out (``server.nightly.retention``)."""

    __tablename__ = "wallet_pass_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    pass_id: Mapped[int] = mapped_column(ForeignKey("wallet_passes.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id"), index=True)
    code: Mapped[str] = mapped_column(String(200))
    valid_until: Mapped[dt.datetime] = mapped_column()


class WalletDevice(Base):
    """An Apple device registered for a pass's updates (its push token).

    Unregistering (or APNs saying the token is gone) sets ``ended_at``; registering
    again opens it anew.
    """

    __tablename__ = "wallet_devices"
    __table_args__ = (
        UniqueConstraint("pass_id", "device_id", name="uq_wallet_devices_pass_device"),
        Index("ix_wallet_devices_device", "device_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    pass_id: Mapped[int] = mapped_column(ForeignKey("wallet_passes.id"))
    device_id: Mapped[str] = mapped_column(String(100))
    push_token: Mapped[str] = mapped_column(String(200))
    registered_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[dt.datetime | None] = mapped_column()
    end_reason: Mapped[str] = mapped_column(String(200), default="")


class WalletDelivery(Base):
    """A push to an Apple device (``apns``) or an update of a Google object (``google``),
    written in the transaction that changed the pass and sent with retries
    (``server.wallet.delivery``). One queued row per target: later changes join it, and
    the sender always sends what the pass shows at that moment."""

    __tablename__ = "wallet_deliveries"
    __table_args__ = (Index("ix_wallet_deliveries_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(10))  # apns | google
    pass_id: Mapped[int] = mapped_column(ForeignKey("wallet_passes.id"), index=True)
    device_row_id: Mapped[int | None] = mapped_column(ForeignKey("wallet_devices.id"))
    # queued -> sending -> sent | failed (refused for good) | dropped (nothing to do)
    status: Mapped[str] = mapped_column(String(10), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(80))
    claimed_until: Mapped[dt.datetime | None] = mapped_column()
    last_error: Mapped[str] = mapped_column(Text, default="")
    sent_at: Mapped[dt.datetime | None] = mapped_column()
