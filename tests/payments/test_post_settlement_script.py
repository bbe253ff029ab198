"""scripts/post_settlement.py is the integrator's copy of the signature recipe (version 2): it
must settle against a running portal, and its replay must be answered as one."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest
from django.utils import timezone

from payments.models import Settlement
from tests.demo import load_demo

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "post_settlement.py"

pytestmark = pytest.mark.django_db(transaction=True)


def run(live_server, *args):
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--url", live_server.url, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_script_settles_and_its_replay_is_answered_as_one(live_server):
    load_demo()
    # Explicit, so that the two runs cannot straddle the hour the default takes.
    at = ["--occurred-at", (timezone.now() - dt.timedelta(hours=1)).isoformat(timespec="seconds")]
    first = run(live_server, "--key", "script-visit-1", *at)
    assert first.returncode == 0, first.stdout + first.stderr
    assert first.stdout.startswith("HTTP 201\n"), first.stdout
    again = run(live_server, "--key", "script-visit-1", *at)
    assert again.returncode == 0 and "HTTP 201 (idempotent replay)" in again.stdout
    assert Settlement.objects.count() == 1
    refused = run(live_server, "--amount", "1_000")
    assert refused.returncode == 1
    assert "HTTP 400" in refused.stdout and "bad_amount" in refused.stdout
