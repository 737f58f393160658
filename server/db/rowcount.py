"""How many rows an UPDATE or DELETE run through a session matched.

``AsyncSession.execute`` is typed as returning a ``Result`` whatever the statement; for
an UPDATE or DELETE without RETURNING it returns a ``CursorResult``, which carries the
count (SQLAlchemy's own ``Query.update`` casts it the same way).
"""

from __future__ import annotations

from sqlalchemy.engine import CursorResult, Result
from sqlalchemy.util.typing import TupleAny, Unpack


def rowcount(result: Result[Unpack[TupleAny]]) -> int:
    """The rows matched by the UPDATE or DELETE that gave ``result``."""
    if not isinstance(result, CursorResult):
        raise TypeError(f"rowcount needs the result of an UPDATE or DELETE, not {result!r}")
    return result.rowcount
