"""The Activities plugin (issue 5). Member routes check the member concerned themselves."""

from __future__ import annotations

from tests.route_access import MEMBER

EXPECTED = {
    ("GET", "/activities/admin"): "manage_activities",
    ("GET", "/activities/admin/groups/new"): "manage_activities",
    ("POST", "/activities/admin/groups/new"): "manage_activities",
    ("GET", "/activities/admin/groups/{group_id}"): "manage_activities",
    ("POST", "/activities/admin/groups/{group_id}"): "manage_activities",
    ("GET", "/activities/admin/activities/new"): "manage_activities",
    ("POST", "/activities/admin/activities/new"): "manage_activities",
    ("GET", "/activities/admin/activities/{activity_id}"): "manage_activities",
    ("POST", "/activities/admin/activities/{activity_id}"): "manage_activities",
    ("GET", "/activities/admin/authorizations"): "manage_activities",
    ("GET", "/activities/mine"): MEMBER,
    ("GET", "/activities/members/{member_id}"): MEMBER,
    ("POST", "/activities/members/{member_id}/request"): MEMBER,
    ("POST", "/activities/authorizations/{authorization_id}/retract"): MEMBER,
    ("POST", "/activities/authorizations/{authorization_id}/vote"): MEMBER,
    ("POST", "/activities/authorizations/{authorization_id}/revoke"): "manage_activities",
    ("GET", "/activities/queue"): MEMBER,
    # Printable auth cards: the member, a parent of a minor, or staff with manage_members.
    ("GET", "/members/{member_id}/auth-card"): MEMBER,
    ("GET", "/auth-cards"): "manage_members",
}
