"""bench/pages.py (issue 16 point 4) runs end to end on a small scale, so the benchmark cannot rot
between the runs that fill bench/README.md: every page answers 200 in each phase, the volume it
loads in SQL passes its own checks (legs summing to zero, balances equal to their legs) and the
nightly reconciliation agrees, and no page runs another number of statements once the tables
have grown (the script exits 1 if one does)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_pages_benchmark_runs_and_no_page_runs_more_statements_at_volume():
    database = f"bench_pages_test_{os.getpid()}"
    env = {k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE"}}
    result = subprocess.run(
        [
            sys.executable,
            "bench/pages.py",
            *("--legs", "6000", "--relationships", "400", "--history", "40", "--rounds", "2"),
            *("--database", database),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    out = result.stdout
    assert result.returncode == 0, out[-4000:] + result.stderr[-4000:]
    assert "statements per page, history → volume: the same for every page" in out
    assert "0 mismatches, in balance" in out
    assert "volume: 6,0" in out  # the ledger reached the legs asked for (6,000 and a few)
    rows = [
        line
        for line in out.splitlines()
        if line.startswith("| citizen") or line.startswith("| staff")
    ]
    assert len(rows) == 8, out
