"""The permission catalogue: every permission a group can grant, with its label.

``needs_membership`` marks permissions that are only held while the member's
membership is verified and unexpired. Plugins add theirs through the plugin contract.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Permission:
    key: str
    label: str
    needs_membership: bool = False


CORE_PERMISSIONS: tuple[Permission, ...] = (
    Permission("manage_members", "Manage members (edit, deactivate, create from applicants)"),
    Permission("verify_members", "Verify memberships and link parents", needs_membership=True),
    Permission("issue_card_links", "Issue and revoke mobile card links"),
    Permission("check_cards", "Check member cards as a marshal", needs_membership=True),
    Permission("manage_groups", "Manage groups and group memberships"),
    Permission("manage_settings", "Edit app settings"),
    Permission("manage_activities", "Manage activities and authorizations", needs_membership=True),
    Permission("view_reports", "View reports and the check log"),
    Permission("export_members", "Export the member list as CSV (contact and membership data)"),
)

_CATALOGUE: dict[str, Permission] = {p.key: p for p in CORE_PERMISSIONS}


def register(permission: Permission) -> None:
    existing = _CATALOGUE.get(permission.key)
    if existing is not None and existing != permission:
        raise ValueError(f"permission {permission.key} declared twice")
    _CATALOGUE[permission.key] = permission


def unregister(key: str) -> None:
    """Forget a plugin's permission when the plugin is uninstalled (tests)."""
    _CATALOGUE.pop(key, None)


def catalogue() -> list[Permission]:
    return list(_CATALOGUE.values())


def get(key: str) -> Permission | None:
    return _CATALOGUE.get(key)
