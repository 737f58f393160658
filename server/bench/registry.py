"""Benchmark scenarios: what to request, per token, from the seeded register."""

from __future__ import annotations

import datetime as dt
import importlib
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field

# Modules that register scenarios (and seeders) when imported; other areas append theirs.
SCENARIO_MODULES = [
    "server.bench.card_json",
    "server.bench.card_json_304",
    "server.bench.card_html",
    "server.bench.activities",
    "server.bench.check",
    "server.bench.card_stale",
    "server.bench.check_scanner",
]

# Extra data for the seeded register: ``(sqlite3 connection, member ids, today) -> summary``,
# run inside one transaction after the members and their links are in.
Seeder = Callable[[sqlite3.Connection, range, dt.date], str]
SEEDERS: list[Seeder] = []


def seeder(func: Seeder) -> Seeder:
    if func not in SEEDERS:
        SEEDERS.append(func)
    return func


# Timed jobs outside HTTP, after the load scenarios: ``(members, quick, say) -> [(key,
# seconds)]``, each printed as "<key> 2.41".
Figure = Callable[[int, bool, Callable[[str], None]], list[tuple[str, float]]]
FIGURES: list[Figure] = []


def figure(func: Figure) -> Figure:
    if func not in FIGURES:
        FIGURES.append(func)
    return func


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
    # Which cards the targets come from: the ones with a built payload ("loaded") or
    # the others ("unbuilt": no payload yet, ETag unknown).
    population: str = "loaded"
    # Headers every request carries, made once the server runs (given its base URL):
    # a logged-in session, say.
    session: Callable[[str], dict[str, str]] | None = None
    # Run with the targets before the warm-up and before each measured slice (make
    # their cards stale, say).
    before_slice: Callable[[list[Target]], None] | None = None


_SCENARIOS: dict[str, Scenario] = {}


def scenario(item: Scenario) -> Scenario:
    _SCENARIOS[item.key] = item
    return item


def scenarios() -> list[Scenario]:
    for name in SCENARIO_MODULES:
        importlib.import_module(name)
    return sorted(_SCENARIOS.values(), key=lambda s: (s.order, s.key))
