"""`make run`: is Redis there? When REDIS_URL (from the environment or `.env`, as the settings read
it; default redis://127.0.0.1:6379/0) answers a PING within 1 s, print that URL on stdout and exit
0, so the Makefile exports it and starts web, worker and beat. Otherwise say what still works and
exit 1, so it starts the web server alone."""

import sys
from pathlib import Path

import environ
import redis

DEFAULT_URL = "redis://127.0.0.1:6379/0"

env = environ.Env()
environ.Env.read_env(Path(__file__).resolve().parent.parent / ".env", overwrite=False)
url = env("REDIS_URL", default="") or DEFAULT_URL
try:
    redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1).ping()
except (redis.RedisError, OSError, ValueError) as exc:
    sys.stderr.write(
        f"\n*** Redis is not reachable at {url} ({exc}).\n"
        "*** Starting the web server only: scheduled jobs (authorization expiry and start,\n"
        "*** consent deadlines, expiry reminders, notification mails) will NOT run.\n"
        "*** Pages still work, and an expired authorization is still refused at use time\n"
        "*** (every payment checks the window at the moment it happens).\n"
        "*** Start Redis (or set REDIS_URL) and run `make run` again for the worker and beat.\n\n"
    )
    sys.exit(1)
sys.stderr.write(f"Redis answers at {url}: starting web, worker and beat (honcho, Procfile).\n")
print(url)
