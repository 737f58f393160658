"""Marshal check, scanner, check reports and photos (issue 6)."""

from __future__ import annotations

from tests.route_access import ANYONE, MEMBER

EXPECTED = {
    ("GET", "/check/{code:checkcode}"): ANYONE,
    ("GET", "/check/keys.json"): ANYONE,
    ("GET", "/check/{code:path}"): ANYONE,  # anything else under /check/: UNKNOWN
    ("GET", "/check/revoked.json"): "check_cards",
    ("GET", "/check/scan"): ANYONE,  # a redirect to /check/scan/
    ("GET", "/check/scan/"): "check_cards",
    ("GET", "/check/scan/about"): ANYONE,
    ("GET", "/check/scan/sw.js"): ANYONE,
    ("GET", "/check/scan/manifest.webmanifest"): ANYONE,
    ("GET", "/check/scan/session.json"): "check_cards",
    ("GET", "/check/scan/roster.json"): "check_cards",
    ("POST", "/check/scan/log"): "check_cards",
    ("POST", "/members/{member_id:int}/revoke-codes"): "manage_members",
    ("GET", "/checks"): "view_reports",
    ("GET", "/checks/member/{member_id:int}"): ("view_reports", "manage_members"),
    # Photos: the member (or a parent of a minor); staff with the right permissions.
    ("GET", "/members/{member_id:int}/photo"): MEMBER,
    ("GET", "/members/{member_id:int}/photo/upload"): MEMBER,
    ("POST", "/members/{member_id:int}/photo/upload"): MEMBER,
    ("GET", "/me/photo"): MEMBER,
}

# Called by the scanner's script: refused in JSON (the .json addresses are JSON anyway).
JSON = {("POST", "/check/scan/log")}
