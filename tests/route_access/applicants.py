"""Registration, applicant review and member-code agreements (issue 3)."""

from __future__ import annotations

from tests.route_access import ANYONE

EXPECTED = {
    ("GET", "/register"): ANYONE,
    ("POST", "/register"): ANYONE,
    ("GET", "/applicants"): "manage_members",
    ("GET", "/applicants/{applicant_id}"): "manage_members",
    ("POST", "/applicants/{applicant_id}/create-member"): "manage_members",
    ("POST", "/applicants/{applicant_id}/decline"): "manage_members",
    ("GET", "/member-codes"): "manage_members",
    ("GET", "/member-codes/new"): "manage_members",
    ("POST", "/member-codes/new"): "manage_members",
    ("GET", "/member-codes/{agreement_id}"): "manage_members",
    ("POST", "/member-codes/{agreement_id}"): "manage_members",
    ("POST", "/member-codes/{agreement_id}/extend"): "manage_members",
}
