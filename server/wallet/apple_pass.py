"""The Apple pass: ``pass.json`` (generic style) from a pass's content, and its archive.

Front: the status headline at the top (it stays visible when passes are stacked; a
change shows on the lock screen), the member's name, the membership and its number,
the branch and the first section's entries, the QR of the check URL. Back: the legal
name, the status in words, the background check, every section row with its expiry,
and what the pass is. ``sharingProhibited`` keeps the Share button away; ``voided``
and ``expirationDate`` (the check code's end) grey it out.
"""

from __future__ import annotations

import json
import re
from typing import Any

from server.wallet import images, pkpass
from server.wallet.config import AppleWallet
from server.wallet.models import WalletPass

HEX = re.compile(r"^#([0-9a-fA-F]{6}|[0-9a-fA-F]{3})$")
WEB_SERVICE_PATH = "/wallet/apple"


def rgb(color: str, fallback: str) -> str:
    match = HEX.match(color or "") or HEX.match(fallback)
    digits = match.group(1) if match else "000000"
    if len(digits) == 3:
        digits = "".join(d * 2 for d in digits)
    r, g, b = (int(digits[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgb({r}, {g}, {b})"


def _section_lines(section: dict[str, Any]) -> str:
    lines = []
    for row in section["rows"]:
        head = f"{row['group']}: " if row["group"] else ""
        text = " — ".join(part for part in (row["value"], row["note"]) if part)
        lines.append(f"{head}{row['label']}{': ' + text if text else ''}")
    body = "\n".join(lines) or section["empty_text"]
    return f"{section['note']}\n{body}".strip() if section["note"] else body


def pass_json(
    wallet_pass: WalletPass, apple: AppleWallet, token: str, base_url: str
) -> dict[str, Any]:
    facts = json.loads(wallet_pass.content)
    org = facts["org"]
    number = facts["membership"]["number"]
    sections = [s for s in facts["sections"] if s["rows"] or s["empty_text"]]
    auxiliary = [{"key": "branch", "label": "BRANCH", "value": facts["branch"] or "—"}]
    if sections and sections[0]["rows"]:
        first = sections[0]
        labels = ", ".join(row["label"] for row in first["rows"])
        auxiliary.append({"key": "first_section", "label": first["title"].upper(), "value": labels})
    back = [
        {"key": "legal_name", "label": "Legal name", "value": facts["legal_name"] or "—"},
        {
            "key": "status",
            "label": "Status",
            "value": f"{facts['status']} — {facts['status_text']}",
            "changeMessage": "Status: %@",
        },
        {
            "key": "background_check",
            "label": "Background check",
            "value": facts["background_check"],
        },
        *(
            {"key": f"section_{s['key']}", "label": s["title"], "value": _section_lines(s)}
            for s in sections
        ),
        {
            "key": "about",
            "label": "About this pass",
            "value": (
                f"Member card of {org['kingdom']}. Marshals scan the code to check it live. "
                "It updates itself when your membership changes; a pass shows its data "
                "offline until it is voided."
            ),
        },
    ]
    result: dict[str, Any] = {
        "formatVersion": 1,
        "passTypeIdentifier": apple.pass_type_id,
        "teamIdentifier": apple.team_id,
        "serialNumber": wallet_pass.serial,
        "organizationName": org["title"],
        "description": f"{org['title']} member card",
        "logoText": org["title"],
        "foregroundColor": rgb(org["text_color"], "#ffffff"),
        "labelColor": rgb(org["text_color"], "#ffffff"),
        "backgroundColor": rgb(org["color"], "#5b2a86"),
        "webServiceURL": base_url + WEB_SERVICE_PATH,
        "authenticationToken": token,
        "sharingProhibited": True,
        "expirationDate": facts["check"]["valid_until"],
        "barcodes": [
            {
                "format": "PKBarcodeFormatQR",
                "message": facts["check"]["url"],
                "messageEncoding": "iso-8859-1",
                "altText": f"Member {number}" if number else "Marshal check",
            }
        ],
        "generic": {
            "headerFields": [
                {
                    "key": "headline",
                    "label": "STATUS",
                    "value": facts["headline"],
                    "changeMessage": "%@",
                }
            ],
            "primaryFields": [{"key": "name", "label": "MEMBER", "value": facts["name"]}],
            "secondaryFields": [
                {
                    "key": "membership",
                    "label": "MEMBERSHIP",
                    "value": facts["membership"]["text"],
                    "changeMessage": "Membership: %@",
                },
                {"key": "number", "label": "NUMBER", "value": number or "—"},
            ],
            "auxiliaryFields": auxiliary,
            "backFields": back,
        },
    }
    if wallet_pass.voided_at is not None:
        result["voided"] = True
    return result


def pkpass_bytes(wallet_pass: WalletPass, apple: AppleWallet, token: str, base_url: str) -> bytes:
    files = dict(images.pass_images())
    body = pass_json(wallet_pass, apple, token, base_url)
    files["pass.json"] = json.dumps(body, ensure_ascii=False, indent=1).encode()
    return pkpass.archive(files, apple)
