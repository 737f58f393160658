"""Key files in the data directory (``secret_key``, ``check_keys.json``): private to
their owner, and readable.

A key file others on the machine may read (copied by hand without ``chmod 600``,
unpacked with a loose umask) would let them forge sessions or sign check codes: it is
narrowed to 0600 at every start, with a warning saying so. One Tessera cannot read, or
that is empty, stops the command that reads it with two lines saying which and what to do.
"""

from __future__ import annotations

import logging
import stat
from pathlib import Path

log = logging.getLogger("tessera")

KEY_FILES = ("secret_key", "check_keys.json")


class KeyFileProblem(RuntimeError):
    """A key file Tessera cannot use; the message is the two lines to print."""


def narrow(data_dir: Path) -> None:
    """Make the key files in ``data_dir`` private to their owner (0600)."""
    for name in KEY_FILES:
        path = data_dir / name
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except FileNotFoundError:
            continue
        if mode & 0o077:
            path.chmod(0o600)
            log.warning(
                "%s could be read by other users (mode %04o); it is 0600 now. If someone "
                "else may have read it, consider replacing the key.",
                path,
                mode,
            )


def read_private(path: Path) -> str:
    """The text of the key file ``path``."""
    try:
        text = path.read_text().strip()
    except OSError as problem:
        raise KeyFileProblem(
            f"Cannot read {path} ({problem.strerror or problem}).\n"
            "Run Tessera as the user that owns the data directory (or fix the file's owner)."
        ) from None
    if not text:
        raise KeyFileProblem(
            f"{path} is empty.\n"
            "Restore it from a backup (python manage.py restore), or remove it to make a new one."
        )
    return text
