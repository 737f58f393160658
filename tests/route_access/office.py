"""The office's daily work (issue 15): export, confirmations, membership proofs."""

from __future__ import annotations

from tests.route_access import MEMBER

EXPECTED = {
    ("GET", "/members.csv"): "export_members",
    ("GET", "/members/{member_id}/clear-membership"): "verify_members",
    ("GET", "/members/{member_id}/deactivate"): "manage_members",
    ("GET", "/members/{member_id}/card-links/revoke"): "issue_card_links",
    ("GET", "/members/{member_id}/card-links/replace"): "issue_card_links",
    ("GET", "/me/membership-proof"): MEMBER,
    ("POST", "/me/membership-proof"): MEMBER,
    ("GET", "/membership-proofs"): "verify_members",
    ("GET", "/membership-proofs/{proof_id}"): "verify_members",
    ("GET", "/membership-proofs/{proof_id}/image"): "verify_members",
    ("POST", "/membership-proofs/{proof_id}/verify"): "verify_members",
    ("POST", "/membership-proofs/{proof_id}/reject"): "verify_members",
}
