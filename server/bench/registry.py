"""Benchmark scenarios: what to request, per token, from the seeded register."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field

# Modules that register scenarios when imported; issues 5 and 6 append theirs.
SCENARIO_MODULES = [
    "server.bench.card_json",
    "server.bench.card_json_304",
    "server.bench.card_html",
]


@dataclass(frozen=True)
class Target:
    """One seeded member as the load generator sees it."""

    token: str
    etag: str
    member_id: int


@dataclass(frozen=True)
class Scenario:
    key: str  # printed as "<key> ratio 0.34"
    label: str
    order: int
    # path and extra request headers for one member
    request: Callable[[Target], tuple[str, dict[str, str]]]
    expect_status: int = 200
    extra: dict[str, str] = field(default_factory=dict)


_SCENARIOS: dict[str, Scenario] = {}


def scenario(item: Scenario) -> Scenario:
    _SCENARIOS[item.key] = item
    return item


def scenarios() -> list[Scenario]:
    for name in SCENARIO_MODULES:
        importlib.import_module(name)
    return sorted(_SCENARIOS.values(), key=lambda s: (s.order, s.key))
