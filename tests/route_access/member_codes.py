"""Member-code agreements (brief §4, issue 3): ``server/member_codes/``."""

from __future__ import annotations

EXPECTED = {
    ("GET", "/member-codes"): "manage_members",
    ("GET", "/member-codes/new"): "manage_members",
    ("POST", "/member-codes/new"): "manage_members",
    ("GET", "/member-codes/{agreement_id}"): "manage_members",
    ("POST", "/member-codes/{agreement_id}"): "manage_members",
    ("POST", "/member-codes/{agreement_id}/extend"): "manage_members",
}
