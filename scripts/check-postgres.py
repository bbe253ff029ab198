"""Stop `make test` early, with a useful message, when PostgreSQL is not reachable."""

import os
import sys

import environ
import psycopg

url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/portal")
cfg = environ.Env.db_url_config(url)
try:
    psycopg.connect(
        host=cfg["HOST"] or "127.0.0.1",
        port=cfg["PORT"] or 5432,
        user=cfg["USER"] or "postgres",
        password=cfg["PASSWORD"] or None,
        dbname="postgres",
        connect_timeout=5,
    ).close()
except psycopg.OperationalError as exc:
    sys.stderr.write(
        f"PostgreSQL is not reachable ({cfg['HOST']}:{cfg['PORT']}): {exc}\n"
        "The tests run on PostgreSQL only. Start it, for example:\n"
        "  pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start\n"
        "or set DATABASE_URL=postgres://USER@HOST:PORT/portal.\n"
    )
    sys.exit(1)
