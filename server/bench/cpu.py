"""CPU accounting on Linux: a process's CPU time, and the time the host stole from us.

On a shared (virtual) machine req/s moves with what the neighbours do. The server's
CPU time per request is steadier; the steal share says how much the host took while
a scenario ran, so a reader can tell a contended measurement from a real change.
"""

from __future__ import annotations

import os
from pathlib import Path


def _stat(path: Path) -> list[str] | None:
    """The fields of a ``/proc/<pid>/stat`` after the command name (None if unreadable)."""
    try:
        return path.read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def _seconds(fields: list[str]) -> float:
    """User + system CPU time from a process's stat fields."""
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (0 where /proc is missing)."""
    fields = _stat(Path(f"/proc/{pid}/stat"))
    return _seconds(fields) if fields is not None else 0.0


def children_seconds(pid: int) -> float:
    """``process_seconds`` summed over the running children of ``pid`` (the card
    rebuilder of a worker; 0 where /proc is missing)."""
    found = (_stat(path) for path in Path("/proc").glob("[0-9]*/stat"))
    return sum(_seconds(fields) for fields in found if fields is not None and int(fields[1]) == pid)


def host_ticks() -> tuple[int, int]:
    """(stolen, total) clock ticks of all CPUs so far, from /proc/stat ((0, 0) elsewhere)."""
    try:
        first = Path("/proc/stat").read_text().splitlines()[0].split()
    except OSError:
        return 0, 0
    ticks = [int(value) for value in first[1:9]]  # user … steal; guest time is in user
    return ticks[7], sum(ticks)


def steal_percent(before: tuple[int, int], after: tuple[int, int]) -> float:
    total = after[1] - before[1]
    return 100.0 * (after[0] - before[0]) / total if total > 0 else 0.0
