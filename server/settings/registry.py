"""App settings declared in code: key, type, default, label and help text.

Plugins declare theirs through the plugin contract; they land in the same registry.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from server.clock import is_zone_name
from server.web.json_body import parse_json
from server.web.text import visible_text

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
COLOR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")
URL_RE = re.compile(r"^https?://[^\s<>\"']+$")


class SettingError(ValueError):
    """A value that does not fit its setting; the message is shown to the admin."""


@dataclass(frozen=True)
class SettingDef:
    key: str
    kind: str  # text, longtext, bool, int, email, url, color, fields, list
    default: Any
    label: str
    help: str = ""
    minimum: int | None = None
    maximum: int | None = None
    validator: Callable[[Any], None] | None = field(default=None, compare=False)

    def parse(self, raw: str | None) -> Any:
        """Turn a form value into the stored value, or raise SettingError."""
        raw = visible_text(raw or "").strip()
        if self.kind == "bool":
            return raw in {"on", "true", "1", "yes"}
        if self.kind == "int":
            try:
                value: Any = int(raw)
            except ValueError:
                raise SettingError(f"{self.label}: enter a whole number.") from None
            if self.minimum is not None and value < self.minimum:
                raise SettingError(f"{self.label}: must be at least {self.minimum}.")
            if self.maximum is not None and value > self.maximum:
                raise SettingError(f"{self.label}: must be at most {self.maximum}.")
        elif self.kind == "email":
            if raw and not EMAIL_RE.match(raw):
                raise SettingError(f"{self.label}: enter a valid email address.")
            value = raw
        elif self.kind == "url":
            if raw and not URL_RE.match(raw):
                raise SettingError(
                    f"{self.label}: enter an address starting with https:// (or leave it empty)."
                )
            value = raw
        elif self.kind == "color":
            if not COLOR_RE.match(raw):
                raise SettingError(f"{self.label}: enter a colour like #1a2b3c.")
            value = raw.lower()
        elif self.kind == "fields":
            value = parse_info_fields(raw)
        elif self.kind == "list":
            value = [p.strip() for p in raw.replace("\n", ",").split(",") if p.strip()]
        else:
            if len(raw) > 2000:
                raise SettingError(f"{self.label}: at most 2000 characters.")
            if self.kind == "text" and not raw:
                raise SettingError(f"{self.label}: may not be empty.")
            value = raw
        if self.validator is not None:
            self.validator(value)
        return value

    def render(self, value: Any) -> str:
        if self.kind == "fields":
            return json.dumps(value, indent=2)
        if self.kind == "list":
            return ", ".join(value)
        return "" if value is None else str(value)


INFO_FIELD_TYPES = ("text", "select", "date")


def _known_time_zone(name: Any) -> None:
    if not is_zone_name(str(name)):
        raise SettingError(
            f"Time zone: {name!r} is not a known IANA time zone "
            "(for example Europe/Berlin, America/Chicago or UTC)."
        )


def _installed_plugins(keys: Any) -> None:
    """A typo ("activites") would switch the plugin it meant off, with "Saved"."""
    from server.plugins.registry import available  # the plugin registry imports this module

    installed = [p.key for p in available()]
    unknown = [str(key) for key in keys if key not in installed]
    if unknown:
        raise SettingError(
            f"Enabled plugins: no plugin is called {', '.join(repr(k[:40]) for k in unknown[:5])}"
            f" (installed: {', '.join(installed) or 'none'})."
        )


def parse_info_fields(raw: str) -> list[dict[str, Any]]:
    """Validate the additional-info field definitions (a JSON list)."""
    if not raw:
        return []
    try:
        data = parse_json(raw)
    except json.JSONDecodeError as exc:
        raise SettingError(f"Additional info fields: not valid JSON ({exc.msg}).") from None
    except ValueError as exc:  # NaN, or nested too deeply
        raise SettingError(f"Additional info fields: not valid JSON ({exc}).") from None
    if not isinstance(data, list):
        raise SettingError("Additional info fields: expected a JSON list of fields.")
    seen: set[str] = set()
    fields: list[dict[str, Any]] = []
    for item in data:
        if not isinstance(item, dict):
            raise SettingError("Additional info fields: each field must be an object.")
        key = str(item.get("key", "")).strip()
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,39}", key) or key in seen:
            raise SettingError(f"Additional info fields: bad or repeated key {key!r}.")
        seen.add(key)
        kind = item.get("type", "text")
        if kind not in INFO_FIELD_TYPES:
            raise SettingError(f"Additional info fields: {key}: type must be text, select or date.")
        options = item.get("options", [])
        if kind == "select" and (
            not isinstance(options, list)
            or not options
            or not all(isinstance(o, str) for o in options)
        ):
            raise SettingError(f"Additional info fields: {key}: a select needs a list of options.")
        # The raw text lost its invisible characters, but JSON escapes ("\u202e", "\u0000")
        # only become characters now: the label and options people read are cleaned again.
        label = visible_text(str(item.get("label") or "")).strip() or key
        choices = [visible_text(o).strip() for o in options] if kind == "select" else []
        if any("\x00" in text for text in (label, *choices)):
            raise SettingError(f"Additional info fields: {key}: a label or option holds a NUL.")
        fields.append(
            {
                "key": key,
                "label": label,
                "type": kind,
                "options": choices,
                "member_editable": bool(item.get("member_editable", False)),
                "public": bool(item.get("public", False)),
            }
        )
    return fields


CORE_SETTINGS: tuple[SettingDef, ...] = (
    SettingDef("kingdom_name", "text", "Kingdom of the Example", "Kingdom name"),
    SettingDef(
        "site_title", "text", "Tessera", "Short site title", "Shown in the header and on cards."
    ),
    SettingDef("card_color", "color", "#5b2a86", "Card colour", "Theme colour of the mobile card."),
    SettingDef("card_text_color", "color", "#ffffff", "Card text colour"),
    SettingDef(
        "time_zone",
        "text",
        "UTC",
        "Time zone",
        "IANA name (e.g. Europe/Berlin). Where the organisation's days begin: expiry dates "
        "on cards and checks, and the nightly jobs, follow it.",
        validator=_known_time_zone,
    ),
    SettingDef("contact_email", "email", "", "General contact email"),
    SettingDef(
        "membership_office_email",
        "email",
        "",
        "Membership Office email",
        "Receives the weekly recap; named in login refusals.",
    ),
    SettingDef("registration_open", "bool", True, "Public registration open"),
    SettingDef(
        "ENFORCE_MEMBER_CODES",
        "bool",
        True,
        "Enforce member codes",
        "When off, any member code is accepted on the registration form.",
    ),
    SettingDef(
        "member_code_grace_days", "int", 30, "Member-code grace days", minimum=0, maximum=365
    ),
    SettingDef(
        "terms_text",
        "longtext",
        "I accept the organisation's terms of membership.",
        "Registration terms",
    ),
    SettingDef(
        "terms_url",
        "url",
        "",
        "Terms of membership link",
        "Where the registration form's “read the terms” link points (https://…). "
        "Empty: the form shows the terms text only.",
    ),
    SettingDef(
        "additional_info_fields",
        "fields",
        [],
        "Additional info fields",
        'JSON list: [{"key": "household", "label": "Household", "type": "text|select|date", '
        '"options": [], "member_editable": true, "public": false}]',
    ),
    SettingDef(
        "event_retention_days",
        "int",
        400,
        "Keep event records (days)",
        "The check log, sent mail, finished bulk-issue runs and nightly job records older "
        "than this are deleted by the nightly run. The audit log is kept for ever.",
        minimum=30,
        maximum=36500,
    ),
    SettingDef(
        "session_idle_hours",
        "int",
        72,
        "Log out after idle hours",
        "A login ends when its browser has not been used for this many hours.",
        minimum=1,
        maximum=24 * 90,
    ),
    SettingDef(
        "session_lifetime_days",
        "int",
        14,
        "Log out after days",
        "A login ends this many days after it began, however much it is used.",
        minimum=1,
        maximum=90,
    ),
    SettingDef(
        "enabled_plugins",
        "list",
        ["activities"],
        "Enabled plugins",
        "Comma-separated plugin keys.",
        validator=_installed_plugins,
    ),
)

_REGISTRY: dict[str, SettingDef] = {s.key: s for s in CORE_SETTINGS}


def register(definition: SettingDef) -> None:
    existing = _REGISTRY.get(definition.key)
    if existing is not None and existing != definition:
        raise ValueError(f"setting {definition.key} declared twice")
    _REGISTRY[definition.key] = definition


def unregister(key: str) -> None:
    """Forget a plugin's setting when the plugin is uninstalled (tests)."""
    _REGISTRY.pop(key, None)


def definitions() -> list[SettingDef]:
    return list(_REGISTRY.values())


def get_definition(key: str) -> SettingDef:
    return _REGISTRY[key]
