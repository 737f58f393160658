"""The card's per-app parts — link reader, usage tracker, rebuilder — built in the lifespan."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.applications import Starlette

from server.cards.reader import CardReader, UsageTracker
from server.cards.rebuild import CardRebuilder


@dataclass(frozen=True)
class CardRuntime:
    reader: CardReader
    usage: UsageTracker
    rebuilder: CardRebuilder


def of(app: Starlette) -> CardRuntime:
    found: CardRuntime = app.state.cards
    return found
