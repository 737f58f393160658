"""Core routes (issue 2: foundation)."""

from __future__ import annotations

from tests.route_access import ANYONE, MEMBER, STAFF, SUPERUSER

REGISTER = ("manage_members", "verify_members", "issue_card_links")

EXPECTED = {
    ("GET", "/static"): ANYONE,
    ("GET", "/favicon.ico"): ANYONE,
    ("GET", "/apple-touch-icon.png"): ANYONE,
    ("GET", "/apple-touch-icon-precomposed.png"): ANYONE,
    ("GET", "/login"): ANYONE,
    ("POST", "/login"): ANYONE,
    ("POST", "/logout"): ANYONE,
    ("GET", "/password-reset"): ANYONE,
    ("POST", "/password-reset"): ANYONE,
    ("GET", "/password-reset/{token}"): ANYONE,
    ("POST", "/password-reset/{token}"): ANYONE,
    ("GET", "/"): MEMBER,
    ("GET", "/me"): MEMBER,
    ("POST", "/me/info"): MEMBER,
    ("POST", "/me/password"): MEMBER,
    ("POST", "/me/logout-everywhere"): MEMBER,
    ("GET", "/members"): (*REGISTER, "export_members"),
    ("GET", "/members/{member_id}"): REGISTER,
    ("GET", "/members/{member_id}/audit"): REGISTER,
    ("GET", "/members/{member_id}/edit"): "manage_members",
    ("POST", "/members/{member_id}/edit"): "manage_members",
    ("GET", "/members/{member_id}/delete"): SUPERUSER,
    ("POST", "/members/{member_id}/delete"): SUPERUSER,
    ("GET", "/admin/audit"): "view_reports",
    ("GET", "/groups"): "manage_groups",
    ("GET", "/groups/new"): "manage_groups",
    ("POST", "/groups/new"): "manage_groups",
    ("GET", "/groups/{group_id}"): "manage_groups",
    ("GET", "/groups/{group_id}/edit"): "manage_groups",
    ("POST", "/groups/{group_id}/edit"): "manage_groups",
    ("POST", "/groups/{group_id}/memberships"): "manage_groups",
    ("GET", "/groups/{group_id}/memberships/{membership_id}/edit"): "manage_groups",
    ("POST", "/groups/{group_id}/memberships/{membership_id}/edit"): "manage_groups",
    ("POST", "/groups/{group_id}/memberships/{membership_id}/end"): "manage_groups",
    ("GET", "/admin/settings"): "manage_settings",
    ("POST", "/admin/settings"): "manage_settings",
    ("GET", "/branches"): "manage_settings",
    ("POST", "/branches"): "manage_settings",
    ("GET", "/branches/{branch_id}/edit"): "manage_settings",
    ("POST", "/branches/{branch_id}/edit"): "manage_settings",
    ("GET", "/admin/outbox"): SUPERUSER,
    ("GET", "/admin/outbox/{message_id}"): SUPERUSER,
}
# Routes that end the visitor's session on the server: the meta-tests run them last.
ENDS_SESSION = {("POST", "/logout"), ("POST", "/me/logout-everywhere")}
assert STAFF  # the vocabulary is shared with the other tables
