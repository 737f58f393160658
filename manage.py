#!/usr/bin/env python
"""Tessera's one command-line entry point: ``python manage.py COMMAND``."""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

# Modules that register commands with server.cli; each area adds its own.
COMMAND_MODULES = [
    "server.checks.commands",
    "server.core_commands",
    "server.cards.commands",
    "server.bench.command",
    "server.mail.commands",
    "server.nightly.command",
    "server.demo.command",
    "server.applicants.recap",
    "server.members.ageup_bench",
    "server.plugins.activities.bench_command",
    "server.backup.commands",
    "server.wallet.commands",
]


def database_url() -> str:
    """The URL the command used (as ``server.config`` derives it), for error messages."""
    data_dir = Path(os.environ.get("TESSERA_DATA_DIR", "./data")).resolve()
    return os.environ.get("DATABASE_URL") or f"sqlite+aiosqlite:///{data_dir / 'tessera.sqlite3'}"


def main(argv: list[str] | None = None) -> int:
    from server import logs
    from server.cli import build_parser
    from server.startup_errors import explain

    logs.configure()
    for name in COMMAND_MODULES:
        importlib.import_module(name)
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args) or 0
    except KeyboardInterrupt:
        return 130
    except Exception as error:
        if args.debug:
            raise
        print(explain(error, database_url()), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
