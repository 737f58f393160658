"""The access log: one line per request, cheap enough to leave on.

A request costs the log one tuple appended to a list (time, method, path, status,
duration). Every ``FLUSH_SECONDS`` (or every ``MAX_PENDING`` requests, and at
shutdown) the gathered entries are formatted together and written in a few writes of
whole lines, at most ``CHUNK`` bytes each, so the lines of several workers sharing one
pipe never interleave mid-line. uvicorn's stock access logger builds a ``LogRecord``
and runs a formatter per request, about a third of a bare request's cost; this costs a
few per cent. A process killed with SIGKILL loses at most the last half second of lines.

Lines carry no query string and no client address, and bearer tokens in paths (card
links and the wallet-pass links made from them, password-reset links, marshal check codes)
are replaced by ``[redacted]``, as are the device ids and pass serials in Apple Wallet's
web-service paths; email addresses in a path become ``[email]``. So is a token that
does not follow its word directly — ``/card//<token>``, ``/card/./<token>`` (or ``%2F``
for the slash), ``/check/x/<code>``, a link with a blank typed into it: past one of those
words, every run of 16 or more token characters (20 under ``/check/``) is masked; none of
the words of these areas' own paths is that long. Characters that are
not printable (a ``%0A`` in the requested path decodes to a line break) are written
percent-encoded, so no request can start a line of its own in the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from collections.abc import Callable
from urllib.parse import quote

# Case-insensitive: a link typed or pasted as ``/Card/<token>`` answers 404, and its
# token must not reach the log either. (Only the words are: a pattern that starts with
# a plain "/" is searched for that character first, twice as fast on a hot path's line.)
SECRET_PATHS = re.compile(
    r"(/(?i:card|password-reset)/(?:\.{0,2}/)*|/(?i:check)/(?:\.{0,2}/)*(?=[A-Za-z0-9_\-]{20}))"
    r"[A-Za-z0-9_\-]+"
)
# What follows one of those words (or ``/wallet/``) up to the end of the path (a blank or
# a quote ends it in a line of text), and the runs in it long enough to be a token, or
# most of one: a path ``/card//<token>`` or ``/check/x/<code>`` is answered 404 or
# UNKNOWN, and its token or code is a live one all the same.
SECRET_TAILS = re.compile(r"/(?i:(check)|card|password-reset|wallet)/[^\s\"'<>]*")
LONG_RUN = re.compile(r"[A-Za-z0-9_\-]{16,}")
CODE_RUN = re.compile(r"[A-Za-z0-9_\-]{20,}")
# Wallet passes: the card token in ``/wallet/<token>/…`` — of any length, as card links
# are: a token with a character missing or one too many is a token all the same — and the
# device ids and pass serials of Apple Wallet's web service (``server.wallet``). Not an
# officer's ``/members/<id>/wallet/<pass id>/void``: a number is no token.
WALLET_PATHS = re.compile(
    r"(/wallet/apple/v1/(?:devices|passes)/)[^\s?#]*"
    r"|(/wallet/)(?!apple/)(?!\d+(?:/|$))[^/\s?#]+",
    re.IGNORECASE,
)
EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+")
FLUSH_SECONDS = 0.5
MAX_PENDING = 2000
CHUNK = 4000  # below PIPE_BUF (4096): one write(2) of whole lines is never split
LOGGER = "tessera.access"

Entry = tuple[float, str, str, int, float]


def _hot_redacted(text: str) -> str | None:
    """A card or check link (the hot paths) masked without a regular expression, as
    ``SECRET_PATHS`` masks it; None for any other path (or an unusual one of theirs)."""
    for prefix, shortest in (("/check/", 20), ("/card/", 1)):
        if text.startswith(prefix):
            token, dot, rest = text[len(prefix) :].partition(".")
            plain = token.replace("-", "").replace("_", "")
            if "/" not in rest and len(token) >= shortest and plain.isascii() and plain.isalnum():
                return prefix + "[redacted]" + dot + rest
            return None
    return None


def redact_path(text: str) -> str:
    """``text`` with the tokens of card, password-reset and check links masked."""
    hot = _hot_redacted(text)
    if hot is not None:
        return hot
    folded = text.lower()
    secret = "/card/" in folded or "/password-reset/" in folded or "/check/" in folded
    if secret:
        text = SECRET_PATHS.sub(r"\1[redacted]", text)
    if "/wallet/" in folded:
        secret = True
        text = WALLET_PATHS.sub(lambda m: (m.group(1) or m.group(2)) + "[redacted]", text)
    return SECRET_TAILS.sub(_mask_long_runs, text) if secret else text


def _mask_long_runs(tail: re.Match[str]) -> str:
    runs = CODE_RUN if tail.group(1) else LONG_RUN
    return runs.sub("[redacted]", tail.group())


def clean_path(path: str) -> str:
    """A requested path as the access log writes it: tokens and email addresses
    masked, characters that are not printable (line breaks …) percent-encoded."""
    path = redact_path(path)
    if "@" in path:
        path = EMAIL.sub("[email]", path)
    if not path.isprintable():
        path = "".join(c if c.isprintable() else quote(c, safe="") for c in path)
    return path


def _stamp(at: float, whole: int, prefix: str) -> str:
    return f"{prefix}.{int((at - whole) * 1000):03d}Z"


class AccessLog:
    """Gathers request entries and writes them as lines in batches."""

    def __init__(self, write: Callable[[str], None], *, json_lines: bool = False) -> None:
        self.write = write
        self.json_lines = json_lines
        self.pending: list[Entry] = []
        self._timer: asyncio.TimerHandle | None = None

    def add(self, at: float, method: str, path: str, status: int, duration: float) -> None:
        pending = self.pending
        pending.append((at, method, path, status, duration))
        if len(pending) >= MAX_PENDING:
            self.flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(FLUSH_SECONDS, self.flush)

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        entries, self.pending = self.pending, []
        if not entries:
            return
        chunk: list[str] = []
        size = 0
        for line in self.lines(entries):
            if size + len(line) > CHUNK and chunk:
                self._write("".join(chunk))
                chunk, size = [], 0
            chunk.append(line)
            size += len(line)
        if chunk:
            self._write("".join(chunk))

    def _write(self, text: str) -> None:
        # A closed or broken stream must not fail requests.
        with contextlib.suppress(OSError, ValueError):
            self.write(text)

    def lines(self, entries: list[Entry]) -> list[str]:
        lines = []
        second = -1
        prefix = ""
        for at, method, path, status, duration in entries:
            whole = int(at)
            if whole != second:
                second = whole
                prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
            clean = clean_path(path)
            message = f"{method} {clean} {status} {duration * 1000:.1f}ms"
            if not self.json_lines:
                lines.append(f"{_stamp(at, whole, prefix)} INFO {LOGGER}: {message}\n")
                continue
            record = {
                "time": _stamp(at, whole, prefix),
                "level": "INFO",
                "logger": LOGGER,
                "message": message,
                "method": method,
                "path": clean,
                "status": status,
                "duration_ms": round(duration * 1000, 2),
            }
            lines.append(json.dumps(record) + "\n")
        return lines


class RedactTokensFilter(logging.Filter):
    """For uvicorn's own loggers, should someone switch its access log back on."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.args = tuple(redact_path(a) if isinstance(a, str) else a for a in record.args)
        record.msg = redact_path(str(record.msg))
        return True


def install() -> None:
    for name in ("uvicorn.access", "uvicorn.error"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokensFilter) for f in logger.filters):
            logger.addFilter(RedactTokensFilter())
