"""Production: everything of base.py, tightened. Serve with gunicorn behind a TLS proxy."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import env

DEBUG = False
SECRET_KEY = env("SECRET_KEY")  # required: no default in production
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# Required: the shared cache of the rate limits and the Celery broker. The cache is base.py's
# django-redis with IGNORE_EXCEPTIONS: a Redis that goes away turns cache calls into misses and
# rate limits fail open (RATELIMIT_FAIL_OPEN), so pages keep working (issue 13 point 7: Django's
# own RedisCache raised instead, and /verify, activation and the consent answer gave 500).
REDIS_URL = env("REDIS_URL")

if CONTENT_SECURITY_POLICY is None:  # noqa: F405 - CSP_REPORT_ONLY is for local tools only
    raise ImproperlyConfigured("CSP_REPORT_ONLY must not be set in production")

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
LANGUAGE_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
