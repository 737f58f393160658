"""Registration and applicant review (issue 3); member-code agreements are in member_codes."""

from __future__ import annotations

from tests.route_access import ANYONE

EXPECTED = {
    ("GET", "/register"): ANYONE,
    ("POST", "/register"): ANYONE,
    ("GET", "/applicants"): "manage_members",
    ("GET", "/applicants/{applicant_id}"): "manage_members",
    ("POST", "/applicants/{applicant_id}/create-member"): "manage_members",
    ("POST", "/applicants/{applicant_id}/decline"): "manage_members",
}
