#!/usr/bin/env python
"""Tessera's one command-line entry point: ``python manage.py COMMAND``."""

from __future__ import annotations

import importlib
import sys

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
]


def main(argv: list[str] | None = None) -> int:
    from server.cli import build_parser

    for name in COMMAND_MODULES:
        importlib.import_module(name)
    args = build_parser().parse_args(argv)
    return args.handler(args) or 0


if __name__ == "__main__":
    sys.exit(main())
