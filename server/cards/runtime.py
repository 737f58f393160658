"""The card's per-app parts — link reader, usage tracker, rebuilder — built in the lifespan."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from starlette.applications import Starlette

from server.cards.builder import BuiltPayload
from server.cards.reader import CardReader, UsageTracker


class Rebuilder(Protocol):
    """``server.cards.rebuild.CardRebuilder`` (a thread) or ``server.cards.rebuild_process``'s
    ``RebuilderProcess`` (a child process), as ``CARD_REBUILDER`` says."""

    batches: int
    built: int
    stored: int
    dropped: int

    def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def get(self, member_id: int, *, check_view: bool = False) -> BuiltPayload | None: ...
    @property
    def running(self) -> bool: ...


@dataclass(frozen=True)
class CardRuntime:
    reader: CardReader
    usage: UsageTracker
    rebuilder: Rebuilder


def of(app: Starlette) -> CardRuntime:
    found: CardRuntime = app.state.cards
    return found
