"""JSON request bodies, strictly: what a client sends never makes a 500.

Python's ``json`` module accepts ``NaN`` and ``Infinity`` (not JSON) and raises
``RecursionError`` on a body of a few thousand ``[``; both become ``ValueError`` here,
like any other body that is not JSON.
"""

from __future__ import annotations

import json
from typing import Any


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def parse_json(body: bytes | str) -> Any:
    """The JSON value of ``body``; ``ValueError`` when it is not (strict) JSON."""
    try:
        return json.loads(body, parse_constant=_not_json)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
