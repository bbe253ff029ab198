"""Tests always run on PostgreSQL (never SQLite): database guarantees are PostgreSQL's."""

import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/portal")

from .base import *  # noqa: F403
from .base import DATABASES

if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise RuntimeError("Tests run on PostgreSQL only; DATABASE_URL must be postgres://…")

# Speed: hashing is not what the tests measure.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
SILENCED_SYSTEM_CHECKS = ["django_ratelimit.W001"]  # locmem is fine inside one test process
WHITENOISE_USE_FINDERS = True  # serve static/ without collectstatic
WHITENOISE_AUTOREFRESH = True

# One test database per pytest process, so that several runs on one machine (a developer's and
# CI's, or parallel helpers) never drop each other's database. Django drops it at the end.
DATABASES["default"]["TEST"] = {"NAME": f"test_portal_{os.getpid()}"}

# Celery: tasks run in the test process (each test may still call them twice or from threads);
# the one integration test with a real worker switches this off and uses its own Redis database
# and queue, so a developer's `make run` worker never takes a test's task.
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BROKER_URL = os.environ.get("TEST_CELERY_BROKER_URL", "redis://127.0.0.1:6379/15")
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
SMS_BACKEND = "accounts.sms.LocmemBackend"  # accounts.sms.outbox, emptied per test
