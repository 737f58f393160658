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


def positive_int(text: str) -> int:
    """An option's count (``--rounds``, ``--workers``, ``--members`` …): a whole number of at
    least 1, or a usage error that says so (argparse exits 2 with the message)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def port_number(text: str) -> int:
    """A TCP port to listen on: 1 to 65535."""
    value = positive_int(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"a port is at most 65535, not {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="manage.py", description="Tessera command line.")
    parser.add_argument("--debug", action="store_true", help="Show tracebacks of errors.")
    # ``--debug`` may also follow the command; SUPPRESS keeps the main parser's value.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help="Show tracebacks of errors."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for cmd in sorted(COMMANDS.values(), key=lambda c: c.name):
        p = sub.add_parser(cmd.name, help=cmd.help, description=cmd.help, parents=[common])
        for flags, options in cmd.arguments:
            p.add_argument(*flags, **options)
        p.set_defaults(handler=cmd.handler)
    return parser
