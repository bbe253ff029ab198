"""Settings shared by every environment; read from the environment (12-factor).

`make run` uses these as they are (SQLite file, DEBUG on via the Makefile); `test.py` points at
PostgreSQL; `production.py` only tightens.
"""

from pathlib import Path

import environ
from csp.constants import NONCE, NONE, SELF
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
# Only good for local runs; production.py refuses to start without a real one.
SECRET_KEY = env("SECRET_KEY", default="django-insecure-local-only-do-not-deploy")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])

INSTALLED_APPS = [
    # django.contrib.admin with the portal's site (accounts.admin_site: no search text in URLs).
    "accounts.admin_config.PortalAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "crispy_forms",
    "crispy_bootstrap5",
    "axes",
    "django_celery_beat",
    # Ours, in dependency order: accounts <- family <- payments <- wallet.
    "accounts",
    "family",
    "payments",
    "wallet",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Content-Security-Policy on every page (CONTENT_SECURITY_POLICY below).
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Under /api/: 413 before a large body is read, and every error answer in the JSON shape.
    "payments.api.middleware.ApiEdgesMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # A form field, filter or query parameter with a control character: one 400 page, no view.
    "accounts.middleware.ControlCharacterMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Pages are personal: never kept by a browser or a proxy (Cache-Control: no-store).
    "accounts.middleware.NoStoreMiddleware",
    # Turns django-ratelimit's Ratelimited exception into RATELIMIT_VIEW (a 429 page).
    "django_ratelimit.middleware.RatelimitMiddleware",
    # Last, as django-axes asks: it turns a lockout into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.inbox",
            ],
        },
    },
]

# make run: a SQLite file so a newcomer needs nothing installed. Tests and production: PostgreSQL.
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False  # services open their own (durable) transactions
# Persistent connections: a new PostgreSQL connection per request cost a settlement +70 % in
# bench/settlement.py (43.5 ms vs 25.6 ms) and halved the API's throughput.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env.bool(
    "PREPARED_STATEMENTS", default=False
):
    # Opt-in, measured (bench/README.md, issue 16 point 2): server-side parameter binding, so
    # that psycopg prepares a statement once it has run PREPARE_THRESHOLD times on a connection.
    # A settlement +6 to +25 %; but off by default because a prepared statement's generic plan
    # cannot use a partial index whose condition only the parameter's value proves (the bureau
    # account lookup `kind = $1` against the index `WHERE kind <> 'personal'`, the passes'
    # live-status indexes): the wallet's return pass fell from 547 to 129 rows/s at 100,000
    # accounts.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        server_side_binding=True, prepare_threshold=env.int("PREPARE_THRESHOLD", default=5)
    )
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # make run: web, worker and beat write to one SQLite file. Wait up to 20 s for its single
    # write lock instead of failing with "database is locked", and take the lock when a
    # transaction begins (IMMEDIATE), where SQLite can wait for it rather than refuse at once.
    DATABASES["default"].setdefault("OPTIONS", {}).update(timeout=20, transaction_mode="IMMEDIATE")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    # django-redis: a Redis that goes away turns cache calls into misses (logged), so pages still
    # render; rate limits then fail open until it is back.
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "portal",
            "OPTIONS": {
                "IGNORE_EXCEPTIONS": True,
                "SOCKET_CONNECT_TIMEOUT": 0.5,
                "SOCKET_TIMEOUT": 0.5,
            },
        }
    }
    DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
else:
    # Without Redis (plain `make run`), a per-process cache; rate limits are then per process.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Celery (issue 5): Redis is the broker; results are not kept (tasks write to the database).
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL or "redis://127.0.0.1:6379/0")
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "Asia/Shanghai"
CELERY_ENABLE_UTC = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
DJANGO_CELERY_BEAT_TZ_AWARE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1  # long batch tasks: do not hoard messages
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# An unreachable broker must fail fast (a page enqueues after commit and logs the failure), not
# hang the request in kombu's default retries.
CELERY_BROKER_CONNECTION_TIMEOUT = 2
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_PUBLISH_RETRY = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": 1,
    "socket_timeout": 5,
    # acks_late tasks not acknowledged within this time are delivered again; every periodic task
    # is idempotent and finishes far sooner (bench/expiry.py: 1M rows).
    "visibility_timeout": 3600,
}

# Mail (notifications, issue 5): the console in development; SMTP settings in production.
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="家庭共济服务 <no-reply@portal.example>")
EMAIL_SUBJECT_PREFIX = ""

# Text messages (issue 13): activation codes go to the registered phone through SMS_BACKEND, a
# class with send(phone, text) (accounts/sms.py). Only development backends ship: the console
# (the default; logs the text), a file of JSON lines (SMS_FILE_PATH) and locmem (tests). A
# deployment names its SMS gateway's class here; `check --deploy` warns otherwise (accounts.W001).
SMS_BACKEND = env("SMS_BACKEND", default="accounts.sms.ConsoleBackend")
SMS_FILE_PATH = env.path("SMS_FILE_PATH", default=BASE_DIR / "artifacts" / "sms.jsonl")

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses locked-out credentials
    "accounts.backends.IdentityNumberBackend",  # citizens: identity number + password
    "django.contrib.auth.backends.ModelBackend",  # staff: username + password
]
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator",
        "OPTIONS": {"user_attributes": ("username", "first_name", "last_name", "email")},
    },
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 8},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
# Messages stay server-side (the default keeps them in a signed but readable cookie): an
# institution's new API secret is shown once through a message.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

# Login throttling and lockout (django-axes): five wrong passwords are answered as such; the sixth
# locks for 30 minutes (staff can lift it in the admin, "Access attempts"). Failures count per
# identity number (whatever the address) and, separately, per client address (whatever the number),
# so neither guessing one account from many addresses nor many accounts from one address works.
AXES_FAILURE_LIMIT = 6
AXES_COOLOFF_TIME = 0.5  # hours
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
# Behind the bureau's reverse proxy: its address(es), so that lockout and rate limits count the
# client's address from X-Forwarded-For (accounts.client_ip); empty, the connecting address.
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])
AXES_CLIENT_IP_CALLABLE = "accounts.client_ip.client_ip"
AXES_USERNAME_CALLABLE = "accounts.backends.axes_username"
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
# On success, only the failures of that identity from that address are forgotten (our handler):
# axes would forget everything of the identity or the address (issue 13 point 2).
AXES_RESET_ON_SUCCESS = True
AXES_HANDLER = "accounts.axes_handler.PortalAxesHandler"
# Never kept in the attempts' copy of the form: passwords, identity numbers, codes.
AXES_SENSITIVE_PARAMETERS = [
    "username", "old_password", "new_password1", "new_password2", "password1", "password2",
    "id_number", "code",
]  # fmt: skip
AXES_VERBOSE = False

RATELIMIT_VIEW = "accounts.views.ratelimited"
RATELIMIT_IP_META_KEY = "accounts.client_ip.client_ip"
# While Redis (the cache) is unreachable, rate limits let requests through rather than answer
# every citizen "too many attempts" (django-redis logs the outage). Login lockout (django-axes)
# keeps working: it counts failures in the database. What goes unthrottled meanwhile: activation
# and the consent answer, both of which still check identity or the password on every request.
RATELIMIT_FAIL_OPEN = True

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("简体中文")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
MEDIA_URL = "media/"

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = 60 * 60 * 2  # a public-service session: two hours
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

# Content-Security-Policy (django-csp, issue 13): everything from this site only; no inline
# script at all; inline <style> only with the page's nonce (the printable letters); images may be
# data: URLs (the drawn signature of a letter). The API answers JSON and needs none of it.
CONTENT_SECURITY_POLICY = {
    "EXCLUDE_URL_PREFIXES": ["/api/"],
    "DIRECTIVES": {
        "default-src": [NONE],
        "script-src": [SELF],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "manifest-src": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "base-uri": [NONE],
        "object-src": [NONE],
    },
}
# CSP_REPORT_ONLY=1: the browser reports what the policy would refuse instead of refusing it, for
# tools that inject scripts into pages (../shared/tools/pageshot.py adds axe as an inline
# script). Never in production.
if env.bool("CSP_REPORT_ONLY", default=False):
    CONTENT_SECURITY_POLICY_REPORT_ONLY = CONTENT_SECURITY_POLICY
    CONTENT_SECURITY_POLICY = None

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {
        "axes": {"level": "WARNING"},
        "django_redis": {"level": "WARNING"},
    },
}

# Institution API (issue 13): where it is mounted, and the largest body it reads (a settlement
# with its 500 items is far below this).
API_PATH_PREFIX = "/api/"
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=1024 * 1024)

# Counter binding (issue 6, R18): scans of signed letters are kept outside MEDIA_ROOT and never
# served by a URL (staff download them through a region-scoped view); the size limit is checked
# while the upload streams in and again by the service.
COUNTER_SCAN_ROOT = env.path("COUNTER_SCAN_ROOT", default=BASE_DIR / "private" / "scans")
COUNTER_SCAN_MAX_BYTES = env.int("COUNTER_SCAN_MAX_BYTES", default=5 * 1024 * 1024)

# Printable letters (issue 7): the public address the QR code of a printed letter points at
# (https://…/verify/<code>). Empty: the address of the request that renders it.
PORTAL_BASE_URL = env("PORTAL_BASE_URL", default="")
