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
