"""Who may use every route: one table per area, merged here.

Each module in this package defines ``EXPECTED: dict[tuple[str, str], Rule]`` mapping
``(METHOD, path as declared)`` to who gets in:

- ``ANYONE``: everybody, logged in or not;
- ``MEMBER``: any logged-in member;
- ``STAFF``: staff (a current group membership, or superuser);
- ``SUPERUSER``: superusers only;
- a permission key, or a tuple of keys (holding any one of them is enough).

``tests/test_route_access.py`` fails for a route that is missing here, for an entry
whose route no longer exists, and for every principal who gets in but should not
(or should but does not). Add your routes to your own module.

A module may also list ``JSON: set[tuple[str, str]]``: endpoints that scripts call,
whose refusals must be JSON (401/403 with an ``error`` and a ``message``), never a
redirect to the login page. Every ``.json`` address counts as such without listing.

A module may list ``ENDS_SESSION: set[tuple[str, str]]``: routes after which the
visitor's session no longer works on the server (logout); the meta-tests visit them
last, with fresh logins.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

Rule = str | tuple[str, ...]
ANYONE = "anyone"
MEMBER = "member"
STAFF = "staff"
SUPERUSER = "superuser"


def expected() -> dict[tuple[str, str], Rule]:
    table: dict[tuple[str, str], Rule] = {}
    for info in pkgutil.iter_modules([str(Path(__file__).parent)]):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for key, rule in module.EXPECTED.items():
            assert key not in table, f"{key} is declared in two route-access tables"
            table[key] = rule
    return table


def json_routes() -> set[tuple[str, str]]:
    """Routes declared as JSON endpoints (``.json`` addresses are added by the test)."""
    found: set[tuple[str, str]] = set()
    for info in pkgutil.iter_modules([str(Path(__file__).parent)]):
        module = importlib.import_module(f"{__name__}.{info.name}")
        found |= getattr(module, "JSON", set())
    return found


def session_enders() -> set[tuple[str, str]]:
    """Routes that end the visitor's server-side session (run last by the meta-tests)."""
    found: set[tuple[str, str]] = set()
    for info in pkgutil.iter_modules([str(Path(__file__).parent)]):
        module = importlib.import_module(f"{__name__}.{info.name}")
        found |= getattr(module, "ENDS_SESSION", set())
    return found
