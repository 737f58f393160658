"""Pages that issue and revoke card links (issue 4): ``server/cards/link_routes.py``."""

from __future__ import annotations

from tests.route_access import MEMBER

EXPECTED = {
    ("GET", "/members/{member_id}/card-links"): "issue_card_links",
    ("POST", "/members/{member_id}/card-links/issue"): "issue_card_links",
    ("POST", "/members/{member_id}/card-links/revoke"): "issue_card_links",
    ("POST", "/members/{member_id}/card-links/replace"): "issue_card_links",
    ("GET", "/me/cards"): MEMBER,
    ("POST", "/me/cards/issue"): MEMBER,
    ("GET", "/cards/bulk"): "issue_card_links",
    ("POST", "/cards/bulk"): "issue_card_links",
    ("GET", "/cards/bulk/{job_id}.json"): "issue_card_links",
    ("GET", "/cards/bulk/{job_id}"): "issue_card_links",
}
