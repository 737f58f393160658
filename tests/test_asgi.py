"""The served application: built from the environment, its startup objects frozen."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_served_app_keeps_startup_objects_out_of_full_collections(tmp_path):
    """Without it, every full collection walks all the modules and models: pauses of
    tens of milliseconds in the middle of requests under load."""
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import gc, server.asgi; print(gc.get_freeze_count(), len(gc.get_objects()))",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={
            **{k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
            "TESSERA_DATA_DIR": str(tmp_path),
        },
        check=False,
    )
    assert done.returncode == 0, done.stderr
    frozen, tracked = map(int, done.stdout.split())
    assert frozen > 20_000 and tracked < frozen / 10
