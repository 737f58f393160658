"""``manage.py rotate-check-key``: a new signing key for check codes."""

from __future__ import annotations

import argparse
import sys

from server.checks import keyring
from server.cli import argument, command
from server.config import load_settings


@command(
    "rotate-check-key", "Make a new key for signing check codes (earlier ones keep verifying)."
)
@argument("--retire-previous", action="store_true", help="Refuse codes signed by earlier keys.")
@argument("--retire", type=int, metavar="KEY_ID", help="Retire one earlier key (no new key).")
def rotate_check_key(args: argparse.Namespace) -> int:
    data_dir = load_settings().data_dir
    try:
        if args.retire is not None:
            ring = keyring.retire(data_dir, args.retire)
            print(f"Key {args.retire} is retired: codes it signed are refused from now on.")
        else:
            ring = keyring.rotate(data_dir, retire_previous=args.retire_previous)
            print(f"New check key {ring.current_id} signs codes from now on.")
    except ValueError as problem:
        print(problem, file=sys.stderr)
        return 2
    for key in ring.keys.values():
        state = (
            "current" if key.key_id == ring.current_id else "retired" if key.retired else "valid"
        )
        print(f"  key {key.key_id}: {state}, made {key.created_at:%Y-%m-%d %H:%M} UTC")
    print("Running servers pick the change up within a few seconds.")
    return 0
