"""Member status actions (issue 3)."""

from __future__ import annotations

EXPECTED = {
    ("GET", "/members/{member_id}/status"): ("verify_members", "manage_members"),
    ("POST", "/members/{member_id}/verify-membership"): "verify_members",
    ("POST", "/members/{member_id}/link-parent"): "verify_members",
    ("POST", "/members/{member_id}/clear-membership"): "verify_members",
    ("POST", "/members/{member_id}/deactivate"): "manage_members",
    ("POST", "/members/{member_id}/reactivate"): "manage_members",
}
