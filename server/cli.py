"""The command registry behind ``manage.py``: each area declares its commands here."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Handler = Callable[[argparse.Namespace], int | None]
Argument = tuple[tuple[str, ...], dict[str, Any]]


@dataclass
class Command:
    name: str
    help: str
    handler: Handler
    arguments: list[Argument] = field(default_factory=list)


COMMANDS: dict[str, Command] = {}
# Options declared with ``@argument`` (applied before ``@command``, innermost first).
_PENDING: dict[Handler, list[Argument]] = {}


def command(name: str, help: str) -> Callable[[Handler], Handler]:
    """Register ``handler`` as ``manage.py NAME``; add options with ``@argument``."""

    def decorator(handler: Handler) -> Handler:
        pending = _PENDING.pop(handler, [])
        COMMANDS[name] = Command(name, help, handler, list(reversed(pending)))
        return handler

    return decorator


def argument(*flags: str, **options: Any) -> Callable[[Handler], Handler]:
    def decorator(handler: Handler) -> Handler:
        _PENDING.setdefault(handler, []).append((flags, options))
        return handler

    return decorator


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="manage.py", description="Tessera command line.")
    parser.add_argument("--debug", action="store_true", help="Show tracebacks of errors.")
    # ``--debug`` may also follow the command; SUPPRESS keeps the main parser's value.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for cmd in sorted(COMMANDS.values(), key=lambda c: c.name):
        p = sub.add_parser(cmd.name, help=cmd.help, description=cmd.help, parents=[common])
        for flags, options in cmd.arguments:
            p.add_argument(*flags, **options)
        p.set_defaults(handler=cmd.handler)
    return parser
