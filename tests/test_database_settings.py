"""Database connection settings (issue 16 point 2): statements prepared on the server, kept
across requests, and a way to turn preparation off for a pooler that cannot keep them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.django_db
def test_the_live_connection_binds_on_the_server_and_prepares_repeated_statements():
    connection.ensure_connection()
    raw = connection.connection
    assert raw.prepare_threshold == 5
    assert type(connection.cursor().cursor).__name__ != "ClientCursor"  # server-side binding
    for _ in range(7):
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM accounts_regionpolicy WHERE code = %s", ["320100"])
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements")
        assert cursor.fetchone()[0] >= 1


def _options(**env) -> dict:
    code = (
        "import json, portal.settings.base as b; "
        "print(json.dumps(b.DATABASES['default'].get('OPTIONS', {})))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_preparation_can_be_turned_off_or_tuned_and_sqlite_never_gets_it():
    pg = "postgres://postgres@127.0.0.1:5432/portal"
    assert _options(DATABASE_URL=pg) == {"server_side_binding": True, "prepare_threshold": 5}
    assert _options(DATABASE_URL=pg, PREPARE_THRESHOLD="0")["prepare_threshold"] == 0
    assert _options(DATABASE_URL=pg, PREPARED_STATEMENTS="false") == {}
    assert "server_side_binding" not in _options(DATABASE_URL="sqlite:////tmp/x.sqlite3")
