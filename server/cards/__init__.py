"""Mobile card links and the card PWA.

Importing this package installs the automatic payload invalidation (ORM flush events,
``server.cards.invalidation``): every process that changes members does.
"""

from __future__ import annotations

from server.cards import invalidation as invalidation  # noqa: F401  (installs the flush events)
