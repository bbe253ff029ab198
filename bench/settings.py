"""Settings of the settlement benchmark: production's (DEBUG off, Redis cache, gunicorn), with
the bench's own throwaway database, no TLS redirect (gunicorn is reached over plain HTTP on
127.0.0.1) and the URL map of bench/urls.py (the portal's plus one bare view).

Environment: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/bench_portal),
BENCH_CONN_MAX_AGE (default: what the portal sets, CONN_MAX_AGE from the environment or 60 s;
0 = one connection per request), REDIS_URL (default redis://127.0.0.1:6379/15)."""

import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_portal")
os.environ.setdefault("SECRET_KEY", "bench-only-not-a-secret-8c1f0e5a7d2b4c69a3e1")
os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/15")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")

from portal.settings.production import *  # noqa: F403
from portal.settings.production import CACHES, DATABASES, LOGGING, env

if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise RuntimeError("The benchmark runs on PostgreSQL only; DATABASE_URL must be postgres://…")

ROOT_URLCONF = "bench.urls"
DATABASES["default"]["CONN_MAX_AGE"] = env.int(
    "BENCH_CONN_MAX_AGE", default=DATABASES["default"].get("CONN_MAX_AGE", 0)
)
CACHES["default"]["KEY_PREFIX"] = "bench"
# No collectstatic for a throwaway run: the bench requests render no template anyway.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
LOGGING["root"]["level"] = env("LOG_LEVEL", default="WARNING")
