"""Card JSON, first fetch of the day: 200 with the stored payload."""

from __future__ import annotations

from server.bench.registry import Scenario, Target, scenario


def _request(target: Target) -> tuple[str, dict[str, str]]:
    return f"/card/{target.token}.json", {}


scenario(Scenario("card json", "card JSON (200)", 10, _request))
