"""Wallet passes (issue 17): got through the card link (a bearer token), kept current
through Apple's web service (the pass's own token), listed and voided by staff."""

from __future__ import annotations

from tests.route_access import ANYONE

REGISTRATION = "/wallet/apple/v1/devices/{device}/registrations/{pass_type}/{serial}"

EXPECTED = {
    ("GET", "/wallet/{token}/apple.pkpass"): ANYONE,
    ("GET", "/wallet/{token}/google"): ANYONE,
    ("POST", REGISTRATION): ANYONE,
    ("DELETE", REGISTRATION): ANYONE,
    ("GET", "/wallet/apple/v1/devices/{device}/registrations/{pass_type}"): ANYONE,
    ("GET", "/wallet/apple/v1/passes/{pass_type}/{serial}"): ANYONE,
    ("POST", "/wallet/apple/v1/log"): ANYONE,
    ("GET", "/members/{member_id}/wallet"): "issue_card_links",
    ("POST", "/members/{member_id}/wallet/{pass_id}/void"): "issue_card_links",
}
