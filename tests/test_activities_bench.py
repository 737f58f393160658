"""``manage.py bench-activities`` runs end to end on a small register (figures not judged)."""

from __future__ import annotations

import re

from manage import main


def test_bench_activities_prints_both_figures(capsys):
    assert main(["bench-activities", "--members", "60", "--per-member", "4", "--cards", "25"]) == 0
    out = capsys.readouterr().out
    assert "seeded 60 members and 240 authorizations" in out
    assert re.search(r"auth card batch HTML: 25 in \d+\.\d\d s \(target <= 3 s", out)
    assert re.search(r"nightly expiry \(\d+ due\): 240 in \d+\.\d\d s", out)
