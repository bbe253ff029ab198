"""Database connection settings (issue 16 point 2). Prepared statements are opt-in: they bought
a settlement 6–25 %, but a prepared statement's generic plan cannot use a partial index whose
condition only a parameter's value proves, and the wallet's return pass fell from 547 to 129
rows/s at 100,000 accounts with them (bench/README.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.django_db
def test_by_default_parameters_are_bound_by_the_client_and_nothing_is_prepared():
    for _ in range(7):
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM accounts_regionpolicy WHERE code = %s", ["320100"])
    assert isinstance(connection.cursor().cursor, psycopg.ClientCursor)  # bound by the client
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements")
        assert cursor.fetchone()[0] == 0


def _options(**env) -> dict:
    code = (
        "import json, portal.settings.base as b; "
        "print(json.dumps(b.DATABASES['default'].get('OPTIONS', {})))"
    )
    environment = {k: v for k, v in os.environ.items() if k != "PREPARED_STATEMENTS"}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**environment, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_prepared_statements_are_turned_on_and_tuned_by_the_environment_never_on_sqlite():
    pg = "postgres://postgres@127.0.0.1:5432/portal"
    assert _options(DATABASE_URL=pg) == {}
    on = _options(DATABASE_URL=pg, PREPARED_STATEMENTS="true")
    assert on == {"server_side_binding": True, "prepare_threshold": 5}
    tuned = _options(DATABASE_URL=pg, PREPARED_STATEMENTS="true", PREPARE_THRESHOLD="0")
    assert tuned["prepare_threshold"] == 0
    sqlite = _options(DATABASE_URL="sqlite:////tmp/x.sqlite3", PREPARED_STATEMENTS="true")
    assert "server_side_binding" not in sqlite
