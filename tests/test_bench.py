"""``manage.py bench`` runs end to end and prints its figures (tiny sizes; no timing asserted)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_bench_prints_a_ratio_per_scenario(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "bench",
            "--members",
            "300",
            "--quick",
            "--seconds",
            "1",
            "--connections",
            "8",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        env={
            "PATH": "/usr/bin:/bin",
            **{k: v for k, v in __import__("os").environ.items()},
            "TESSERA_DATA_DIR": str(tmp_path),
        },
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for key in ("card json", "card json 304", "card html", "check", "check printed"):
        match = re.search(rf"^{key} ratio (\d+\.\d\d)$", done.stdout, re.M)
        assert match, done.stdout
        assert float(match.group(1)) > 0
        assert re.search(rf"^{key} p99 ms \d+\.\d\d$", done.stdout, re.M)
    for key in ("reference", "card json", "check"):  # the server's CPU time per request
        match = re.search(rf"^{key} cpu us (\d+)$", done.stdout, re.M)
        assert match and int(match.group(1)) > 0, done.stdout
    for key in ("card json", "check"):  # each ratio against the bare route measured beside it
        reference = re.search(rf"^{key} reference req/s (\d+)$", done.stdout, re.M)
        assert reference and int(reference.group(1)) > 0, done.stdout
        assert re.search(rf"^{key} steal pct \d+\.\d$", done.stdout, re.M), done.stdout
    for key in ("auth card batch seconds", "nightly expiry seconds"):
        assert re.search(rf"^{key} \d+\.\d\d$", done.stdout, re.M), done.stdout
    assert "(0 errors)" not in done.stdout and "errors)" not in done.stdout
