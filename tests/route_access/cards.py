"""Card links, the mobile card and its PWA files (issue 4). Card pages take a bearer token."""

from __future__ import annotations

from tests.route_access import ANYONE, MEMBER

EXPECTED = {
    ("GET", "/pwa"): ANYONE,
    ("GET", "/sw.js"): ANYONE,
    ("GET", "/card/{token}"): ANYONE,
    ("GET", "/card/{token}.json"): ANYONE,
    ("GET", "/card/{token}/manifest.webmanifest"): ANYONE,
    ("GET", "/members/{member_id}/card-links"): "issue_card_links",
    ("POST", "/members/{member_id}/card-links/issue"): "issue_card_links",
    ("POST", "/members/{member_id}/card-links/revoke"): "issue_card_links",
    ("GET", "/me/cards"): MEMBER,
    ("POST", "/me/cards/issue"): MEMBER,
    ("GET", "/cards/bulk"): "issue_card_links",
    ("POST", "/cards/bulk"): "issue_card_links",
    ("GET", "/cards/bulk/{job_id}.json"): "issue_card_links",
    ("GET", "/cards/bulk/{job_id}"): "issue_card_links",
}
