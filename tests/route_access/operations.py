"""Operations (issue 14): probes, metrics, retrying mail."""

from __future__ import annotations

from tests.route_access import ANYONE, SUPERUSER

EXPECTED = {
    ("GET", "/healthz"): ANYONE,
    ("GET", "/readyz"): ANYONE,
    # Loopback clients (as the test client is) and bearer-token holders; see
    # tests/test_health.py for the refusals.
    ("GET", "/metrics"): ANYONE,
    ("POST", "/admin/outbox/retry-failed"): SUPERUSER,
    ("POST", "/admin/outbox/{message_id}/retry"): SUPERUSER,
}
