"""The office's daily work (issue 15): export, confirmations, membership proofs."""

from __future__ import annotations

from tests.route_access import MEMBER

EXPECTED = {
    ("GET", "/members.csv"): "export_members",
}
assert MEMBER
