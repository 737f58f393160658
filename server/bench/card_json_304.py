"""Card JSON refresh with an unchanged payload: ``If-None-Match`` → 304."""

from __future__ import annotations

from server.bench.registry import Scenario, Target, scenario


def _request(target: Target) -> tuple[str, dict[str, str]]:
    return f"/card/{target.token}.json", {"If-None-Match": target.etag}


scenario(Scenario("card json 304", "card JSON (304)", 20, _request, expect_status=304))
