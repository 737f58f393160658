"""The card page (HTML rendered from the stored payload)."""

from __future__ import annotations

from server.bench.registry import Scenario, Target, scenario


def _request(target: Target) -> tuple[str, dict[str, str]]:
    return f"/card/{target.token}", {}


scenario(Scenario("card html", "card HTML", 30, _request))
