"""Several ``manage.py`` commands in one process, one after another, each with its own
environment, exit code, standard output and standard error: ``tests.live.run_manage_each``.

Starting ``python manage.py`` costs one to two seconds here (importing every command's
modules); a test that runs a command many times for its answers — a message, an exit
code — pays that once. Each command runs as ``manage.py`` runs it (``manage.main``, the
same error explanations); the output is captured at the file descriptors, so whatever
the command writes, logging and C libraries included, is the command's own.

Reads ``[{"env": {...}, "args": [...]}, ...]`` as JSON on standard input and writes
``[{"returncode": n, "stdout": "...", "stderr": "..."}, ...]`` on standard output.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from typing import Any


def _run(manage: Any, env: dict[str, str], args: list[str]) -> dict[str, object]:
    os.environ.clear()
    os.environ.update(env)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        sys.stdout.flush()
        sys.stderr.flush()
        saved = os.dup(1), os.dup(2)
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        try:
            try:
                code = manage.main(args)
            except SystemExit as stop:  # argparse refusing the arguments
                code = stop.code if isinstance(stop.code, int) else 1
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
        captured = []
        for stream in (out, err):
            stream.seek(0)
            captured.append(stream.read().decode(errors="replace"))
    return {"returncode": code, "stdout": captured[0], "stderr": captured[1]}


def main() -> None:
    import manage

    runs = json.load(sys.stdin)
    results = [_run(manage, run["env"], run["args"]) for run in runs]
    sys.stdout.write(json.dumps(results))


if __name__ == "__main__":
    main()
