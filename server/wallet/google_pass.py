"""The Google Wallet pass: a generic class and object, and the "Save to Google Wallet" JWT.

The object carries the same facts as the Apple pass (``server.wallet.content``): the
organisation as card title, the member's name as header, the status headline as
subheader, membership number and expiry, branch and the plugin sections as text
modules, and the check URL as a QR code. A voided pass is ``INACTIVE``.

The save link is ``https://pay.google.com/gp/v/save/<JWT>``: an RS256 JWT signed with
the service account's key (PyJWT), carrying the class and the object; Google creates
them when the member saves the pass. Later changes go through the REST API
(``server.wallet.google_api``).
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlsplit

import jwt

from server.wallet.config import GOOGLE_SAVE_URL, GoogleWallet
from server.wallet.models import WalletPass

LANGUAGE = "en"


def _text(value: str) -> dict[str, Any]:
    return {"defaultValue": {"language": LANGUAGE, "value": value or "—"}}


def object_id(google: GoogleWallet, wallet_pass: WalletPass) -> str:
    return f"{google.issuer_id}.{wallet_pass.serial}"


def generic_class(google: GoogleWallet) -> dict[str, Any]:
    return {"id": google.class_id}


def _modules(facts: dict[str, Any]) -> list[dict[str, str]]:
    modules = [
        {"id": "status", "header": "Status", "body": f"{facts['status']} — {facts['status_text']}"},
        {"id": "membership", "header": "Membership", "body": facts["membership"]["text"]},
        {"id": "branch", "header": "Branch", "body": facts["branch"] or "—"},
        {"id": "background", "header": "Background check", "body": facts["background_check"]},
    ]
    for section in facts["sections"]:
        lines = [
            " · ".join(part for part in (row["label"], row["value"], row["note"]) if part)
            for row in section["rows"]
        ]
        body = "\n".join(lines) or section["empty_text"]
        if section["note"]:
            body = f"{section['note']}\n{body}"
        if body:
            modules.append(
                {"id": f"section_{section['key']}"[:60], "header": section["title"], "body": body}
            )
    return modules


def generic_object(google: GoogleWallet, wallet_pass: WalletPass, base_url: str) -> dict[str, Any]:
    facts = json.loads(wallet_pass.content)
    number = facts["membership"]["number"]
    result: dict[str, Any] = {
        "id": object_id(google, wallet_pass),
        "classId": google.class_id,
        "state": "ACTIVE" if wallet_pass.voided_at is None else "INACTIVE",
        "cardTitle": _text(facts["org"]["title"]),
        "header": _text(facts["name"]),
        "subheader": _text(facts["headline"]),
        "hexBackgroundColor": facts["org"]["color"],
        "barcode": {
            "type": "QR_CODE",
            "value": facts["check"]["url"],
            "alternateText": f"Member {number}" if number else "Marshal check",
        },
        "textModulesData": _modules(facts),
        "validTimeInterval": {"end": {"date": facts["check"]["valid_until"]}},
    }
    if base_url.startswith("https://"):  # Google fetches the logo: a public address only
        result["logo"] = {
            "sourceUri": {"uri": f"{base_url}/pwa/icons/icon-192.png"},
            "contentDescription": _text(facts["org"]["title"]),
        }
    return result


def save_jwt(
    google: GoogleWallet, wallet_pass: WalletPass, base_url: str, now: float | None = None
) -> str:
    """The signed JWT of the save link (class and object inside)."""
    origin = urlsplit(base_url)
    claims = {
        "iss": google.client_email,
        "aud": "google",
        "typ": "savetowallet",
        "iat": int(now if now is not None else time.time()),
        "origins": [f"{origin.scheme}://{origin.netloc}"],
        "payload": {
            "genericClasses": [generic_class(google)],
            "genericObjects": [generic_object(google, wallet_pass, base_url)],
        },
    }
    headers = {"kid": google.key_id} if google.key_id else None
    return jwt.encode(claims, google.key, algorithm="RS256", headers=headers)


def save_url(google: GoogleWallet, wallet_pass: WalletPass, base_url: str) -> str:
    return GOOGLE_SAVE_URL + save_jwt(google, wallet_pass, base_url)
