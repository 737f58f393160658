"""What an edit page was drawn from: a digest it carries back, so a save made on a page
older than the record's last save is noticed instead of silently undoing that save.

The page puts ``fingerprint(values)`` in a hidden ``seen`` field; the POST, under a lock
on the record, compares it with the record as it is now (``stale``). A POST without the
field (a script naming a few fields) is not checked.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

STALE = (
    "Someone else saved this after you opened the page, so nothing of yours was saved "
    "(it would have undone their change). The page now shows what is saved: make your "
    "change again."
)


def fingerprint(values: dict[str, Any]) -> str:
    """A short digest of ``values`` (JSON-ready data, as ``audit.log.snapshot`` gives)."""
    encoded = json.dumps(values, sort_keys=True, default=str).encode()
    return hashlib.sha256(encoded).hexdigest()[:32]


def stale(posted: object, current: dict[str, Any]) -> bool:
    """Whether the page that posted ``posted`` (its ``seen`` field) showed other values."""
    return isinstance(posted, str) and posted != "" and posted != fingerprint(current)
