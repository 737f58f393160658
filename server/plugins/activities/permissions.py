"""The catalogue permissions that let members authorize activities.

Each activity names one of these (or any other catalogue permission); groups such as a
Marshallate grant them. They need a current, verified membership.
"""

from __future__ import annotations

from server.auth.permissions import Permission

AUTHORIZER_PERMISSIONS: tuple[Permission, ...] = (
    Permission("authorize_armored_combat", "Authorize armored combat", needs_membership=True),
    Permission("authorize_rapier", "Authorize rapier combat", needs_membership=True),
    Permission("authorize_youth_combat", "Authorize youth combat", needs_membership=True),
    Permission("authorize_equestrian", "Authorize equestrian activities", needs_membership=True),
    Permission("authorize_archery", "Authorize archery", needs_membership=True),
    Permission("authorize_activities", "Authorize other activities", needs_membership=True),
)
DEFAULT_AUTHORIZER_PERMISSION = "authorize_activities"
