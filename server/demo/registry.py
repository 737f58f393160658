"""Demo-data steps. ``manage.py demo`` runs them in order, in one transaction.

A step is ``async def step(db: AsyncSession, demo: DemoData) -> None``. Steps must be
idempotent (look up by a natural key before inserting), so ``demo`` can run twice.
Later steps find earlier steps' objects in ``DemoData`` (branches, members by key …).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession


@dataclass
class DemoData:
    today: dt.date
    base_url: str
    # Filled by the steps: e.g. branches["Barony of Example"], members["admin"].
    branches: dict[str, Any] = field(default_factory=dict)
    members: dict[str, Any] = field(default_factory=dict)
    groups: dict[str, Any] = field(default_factory=dict)
    # Lines printed at the end (how to log in, a demo card link …).
    notes: list[str] = field(default_factory=list)


DemoStep = Callable[[AsyncSession, DemoData], Awaitable[None]]


@dataclass(frozen=True)
class _Step:
    order: int
    name: str
    run: DemoStep


_STEPS: dict[str, _Step] = {}


def demo_step(order: int) -> Callable[[DemoStep], DemoStep]:
    """Register a demo step; lower ``order`` runs first (core members are order 10)."""

    def decorator(func: DemoStep) -> DemoStep:
        _STEPS[f"{func.__module__}.{func.__name__}"] = _Step(order, func.__name__, func)
        return func

    return decorator


def register(name: str, order: int, step: DemoStep) -> None:
    """Register a step under an explicit name (plugins' demo hooks)."""
    _STEPS[name] = _Step(order, name, step)


def unregister(name: str) -> None:
    _STEPS.pop(name, None)


def steps() -> list[DemoStep]:
    return [s.run for s in sorted(_STEPS.values(), key=lambda s: (s.order, s.name))]
