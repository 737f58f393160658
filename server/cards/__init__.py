"""Mobile card links and the card PWA.

Importing this package installs the automatic payload invalidation (ORM events).
"""

from __future__ import annotations

from server.cards import payload as payload  # noqa: F401  (registers the ORM events)
