"""One logging setup for every process: ``manage.py`` commands and each server worker.

Every line carries time (UTC), level, logger and message, as text or, with
``TESSERA_LOG_FORMAT=json``, as one JSON object per line for log collectors. Lines go
to standard error. Email addresses and bearer tokens (card and reset links) are
masked in the finished line, tracebacks included, so personal data stays out of logs
whichever code logged it. A database outage is a line with its reason, never a
traceback (``server.db.outage``). ``TESSERA_LOG_LEVEL`` (default ``INFO``) sets the level.

uvicorn's own loggers are routed through the same handler, and its access logger is
silenced: the access log is Tessera's (``server.web.access_log``), cheaper and redacted.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import time
from typing import Any, TextIO

from server.db.outage import unreachable
from server.web.access_log import EMAIL, AccessLog, redact_path

HANDLER_NAME = "tessera"
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def redact(text: str) -> str:
    """``text`` without email addresses and link tokens."""
    if "@" in text:
        text = EMAIL.sub("[email]", text)
    return redact_path(text)


def timestamp(seconds: float) -> str:
    """ISO 8601 in UTC with milliseconds: ``2026-11-30T12:00:00.123Z``."""
    whole = int(seconds)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + (
        f".{int((seconds - whole) * 1000):03d}Z"
    )


def one_line(message: str) -> str:
    """A message kept on its line: line breaks in it (a multi-line SMTP reply, text a
    visitor typed) are written as ``\\n``, so every line starts with time and level."""
    if "\n" in message or "\r" in message:
        message = message.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\\n")
    return message


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = one_line(record.getMessage())
        line = f"{timestamp(record.created)} {record.levelname} {record.name}: {message}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        elif record.exc_text:
            line += "\n" + record.exc_text
        return redact(line)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        if record.exc_info:
            data["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(data, ensure_ascii=False)


LOGGED = "_tessera_logged"


def mark_logged(exc: BaseException) -> None:
    """``exc`` is in the log already, with its traceback: a server that logs it again on
    its way out (uvicorn's "Exception in ASGI application") is not written."""
    with contextlib.suppress(AttributeError):  # a type without attributes of its own
        setattr(exc, LOGGED, True)


class LoggedOnce(logging.Filter):
    """Drops uvicorn's second copy of a request's error that Tessera logged already."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not (record.name.startswith("uvicorn") and getattr(error, LOGGED, False))


class OutageLines(logging.Filter):
    """A database outage is expected (a restart, a failover): a library that logs one
    with its traceback (asyncpg's pool refilling itself every few seconds) gets one line
    with the reason instead. ``TESSERA_LOG_LEVEL=DEBUG`` keeps the tracebacks."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if error is None or logging.getLogger().getEffectiveLevel() <= logging.DEBUG:
            return True
        reason = unreachable(error)
        if reason is not None:
            record.msg = f"{record.getMessage()} (the database cannot be reached: {reason})"
            record.args, record.exc_info, record.exc_text = None, None, None
        return True


def log_format() -> str:
    return "json" if os.environ.get("TESSERA_LOG_FORMAT", "").strip().lower() == "json" else "text"


class StandardError(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to ``sys.stderr`` as it is when a line is written, not as it was when the
    handler was made: a command run in-process by a test (whose captured stream closes
    with the test), or a redirected stream, never leaves logging writing to a closed file."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass  # always the current sys.stderr


def make_handler(stream: TextIO | None = None) -> logging.Handler:
    """The handler every process logs through: to ``stream`` (default: standard error),
    in the configured format, database outages as one line."""
    handler = logging.StreamHandler(stream) if stream is not None else StandardError()
    handler.setFormatter(JsonFormatter() if log_format() == "json" else TextFormatter())
    handler.addFilter(LoggedOnce())
    handler.addFilter(OutageLines())
    return handler


def configure(stream: TextIO | None = None) -> logging.Handler:
    """Install the one handler on the root logger (idempotent); returns it."""
    root = logging.getLogger()
    existing = _handler()
    if existing is not None:
        return existing
    handler = make_handler(stream)
    handler.set_name(HANDLER_NAME)
    root.addHandler(handler)
    given = os.environ.get("TESSERA_LOG_LEVEL", "INFO")
    level = given.strip().upper()
    known = level in LEVELS
    root.setLevel(level if known else "INFO")
    if not known:
        logging.getLogger("tessera").warning(
            "TESSERA_LOG_LEVEL is %r: use %s; logging at INFO", given, ", ".join(LEVELS)
        )
    for name in ("uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    logging.getLogger("alembic").setLevel(logging.WARNING)  # a line per plugin it loads
    # httpx logs every request's URL at INFO: an APNs push's URL ends in the device's
    # push token, and the wallet's other calls are Tessera's own business, not the log's.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    access = logging.getLogger("uvicorn.access")
    access.handlers.clear()
    access.propagate = False
    access.disabled = True
    return handler


def _handler() -> logging.Handler | None:
    for handler in logging.getLogger().handlers:
        if handler.get_name() == HANDLER_NAME:
            return handler
    return None


def write(text: str) -> None:
    """Write finished lines to the log's stream (the access log's batches)."""
    handler = _handler()
    stream: TextIO = getattr(handler, "stream", None) or sys.stderr
    if handler is not None:
        handler.acquire()
    try:
        stream.write(text)
        stream.flush()
    finally:
        if handler is not None:
            handler.release()


def access_log() -> AccessLog | None:
    """The access log, unless ``TESSERA_ACCESS_LOG`` is false."""
    if os.environ.get("TESSERA_ACCESS_LOG", "true").strip().lower() in {"0", "false", "no", "off"}:
        return None
    return AccessLog(write, json_lines=log_format() == "json")
