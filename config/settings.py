"""Settings, read from the environment (see the README's configuration table).

With no variable set this is the *embedded default*: SQLite, Celery on kombu's
filesystem transport and e-mails written as files, everything under ``var/``.
``DATABASE_URL`` switches to PostgreSQL, ``REDIS_URL`` to the Redis broker, and
``DJANGO_ENV=production`` demands ``SECRET_KEY`` and ``ALLOWED_HOSTS``.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.utils.translation import gettext_lazy as _

from config.env import ImproperEnv, env_bool, env_choice, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("VAR_DIR") or BASE_DIR / "var")

DJANGO_ENV = env_choice("DJANGO_ENV", "development", {"development", "production"})
PRODUCTION = DJANGO_ENV == "production"
DEBUG = env_bool("DEBUG", not PRODUCTION)
if PRODUCTION and DEBUG:
    raise ImproperEnv("DEBUG=true is refused when DJANGO_ENV=production")


def _secret_key() -> str:
    key = env_str("SECRET_KEY")
    if key:
        if PRODUCTION and len(key) < 50:
            raise ImproperEnv("SECRET_KEY must be at least 50 characters in production")
        return key
    if PRODUCTION:
        raise ImproperEnv("SECRET_KEY is required when DJANGO_ENV=production")
    # Development only: a random key kept under var/ so sessions survive restarts.
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(64))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [] if PRODUCTION else ["127.0.0.1", "localhost", "testserver"])
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperEnv("ALLOWED_HOSTS is required when DJANGO_ENV=production")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
# Absolute links in e-mails and on PDFs (verification URL, QR code). Unset, it follows the
# port `make run` serves on (WEB_PORT, exported by the Makefile to every process).
SITE_URL = (env_str("SITE_URL") or f"http://127.0.0.1:{env_int('WEB_PORT', 8000, minimum=1)}").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_fsm",
    "django_celery_beat",
    "rest_framework",
    "knox",  # API tokens, hashed, expiring (security.tokens)
    "axes",  # sign-in lockout (security.lockout)
    "csp",  # Content-Security-Policy header, with a nonce per request (request.csp_nonce)
    "django_otp",  # second factor for staff accounts (security.otp)
    "django_otp.plugins.otp_totp",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served locally (no CDN)
    "widget_tweaks",
    "dsfr",
    "django_htmx",
    "rules",
    "workflows",
    "grants",
    "notifications",
    "api",
    "security",  # after knox: its admin replaces knox's
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "config.middleware.InfrastructureFailureMiddleware",  # database down → 503, disk full → 507 (before the session)
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "security.otp.SecondFactorMiddleware",  # a staff session with TOTP is verified before anything else
    "axes.middleware.AxesMiddleware",  # last: turns a locked-out sign-in into its 429
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "config.site_config.site_config",  # django-dsfr's, without a query per page
                "security.otp.context",
            ],
            # {% per_language %}: the layout's parts rendered once per language (config/fragments.py).
            "libraries": {"per_language": "config.fragments"},
        },
    }
]

#: Django's form renderer, its <select> written in Python (a template per option was
#: most of a form page with country or reviewer selects: grants/web/form_renderer.py).
FORM_RENDERER = "grants.web.form_renderer.FormRenderer"

# --- Database -------------------------------------------------------------------------
_database_url = env_str("DATABASE_URL")
if _database_url:
    try:
        DATABASES = {"default": dj_database_url.parse(_database_url, conn_max_age=60, conn_health_checks=True)}
    except Exception as exc:  # dj-database-url raises ValueError / KeyError on bad URLs
        raise ImproperEnv(f"DATABASE_URL is malformed: {exc}") from None
    DATABASES["default"].setdefault("TEST", {})
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(VAR_DIR / "db.sqlite3"),
            # Web, worker and beat write at once: WAL lets readers go on while one writes,
            # IMMEDIATE takes the write lock at BEGIN (no deadlock on lock upgrade) and the
            # timeout waits for it instead of failing with "database is locked".
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Celery ---------------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    if urlsplit(REDIS_URL).scheme not in {"redis", "rediss"}:
        raise ImproperEnv(f"REDIS_URL={REDIS_URL!r} must start with redis:// or rediss://")
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        # Longer than any task's hard time limit, so a running task is never redelivered.
        "visibility_timeout": 3600,
        "socket_connect_timeout": 2,
    }
else:
    _broker = VAR_DIR / "broker"
    for sub in ("queue", "processed", "control"):
        (_broker / sub).mkdir(parents=True, exist_ok=True)
    (VAR_DIR / "celery-results").mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://localhost//"  # a hostname keeps kombu from warning at each connection
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker / "queue"),
        "data_folder_out": str(_broker / "queue"),
        "processed_folder": str(_broker / "processed"),
        "control_folder": str(_broker / "control"),
        "store_processed": False,
    }
    CELERY_RESULT_BACKEND = f"file://{VAR_DIR / 'celery-results'}"

CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_EXPIRES = 3600
CELERY_TIMEZONE = "Europe/Paris"
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {"grants.tasks.render_*": {"queue": "pdf"}, "grants.tasks.build_*": {"queue": "pdf"}}
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 240, minimum=1)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 300, minimum=1)
# A killed worker's message goes back to the queue for tasks declared acks_late.
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# One message at a time per process: PDF renders are long and must not queue behind each other.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Bounds WeasyPrint's memory growth: a process is replaced after this many tasks.
CELERY_WORKER_MAX_TASKS_PER_CHILD = env_int("CELERY_WORKER_MAX_TASKS_PER_CHILD", 200, minimum=1)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Time lives in the database: beat only wakes the sweeps up (notifications/tasks.py).
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "notifications-sweep": {"task": "notifications.sweep", "schedule": 60.0},  # reminders, expiry
    "notifications-relay": {"task": "notifications.relay", "schedule": 60.0},  # unsent outbox rows
    "notifications-digests": {"task": "notifications.digests", "schedule": 3600.0},  # hourly digest check
    # Signed decisions without a letter, submissions without a receipt (broker down at the time).
    "documents-sweep": {"task": "grants.tasks.sweep_documents", "schedule": 300.0},
}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# --- Auth -----------------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out pair before any password check
    "rules.permissions.ObjectPermissionBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

# --- I18N -----------------------------------------------------------------------------
LANGUAGE_CODE = "fr"
LANGUAGES = [("fr", _("Français")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Europe/Paris"
USE_I18N = True
USE_TZ = True

# --- Design system --------------------------------------------------------------------
# Current DSFR guidance: mark optional fields, not required ones (django-dsfr's next default).
DSFR_MARK_OPTIONAL_FIELDS = True

# --- Files ----------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
WHITENOISE_USE_FINDERS = DEBUG
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT") or VAR_DIR / "media")
UPLOAD_MAX_BYTES = env_int("UPLOAD_MAX_BYTES", 20 * 1024 * 1024, minimum=1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_PERMISSIONS = 0o640
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# --- E-mail ---------------------------------------------------------------------------
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL") or "Appels à projets <no-reply@example.org>"
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_HOST = env_str("EMAIL_HOST")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = env_int("EMAIL_PORT", 587, minimum=1)
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER") or ""
    EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD") or ""
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
    EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10, minimum=1)
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = VAR_DIR / "mail"

# --- API ------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "security.tokens.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "api.errors.exception_handler",
    # Behind N reverse proxies the client address is the N-th from the right of X-Forwarded-For.
    "NUM_PROXIES": env_int("NUM_PROXIES", 0, minimum=0) or None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Appels à projets — coopération décentralisée",
    "DESCRIPTION": "API v1 of the grant-call workflow engine.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
}

# --- Cache (throttling, rate limits) --------------------------------------------------
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": VAR_DIR / "cache"}
    )
}


# --- Security -------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
# Django's database sessions, the row of each request read without the ORM (config/sessions.py).
SESSION_ENGINE = "config.sessions"
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)

# === Sign-in doors, API tokens, CSP, second factor (security/; docs/security.md) =========
# One lockout policy on every sign-in door (web form, admin, API token): django-axes per
# (username, client address) pair, recorded in the database (docs/decisions.md, "Sign-in
# lockout"). The address is security.addresses.client_address (NUM_PROXIES, as the API's).
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_FAILURE_LIMIT = env_int("SIGNIN_FAILURE_LIMIT", 10, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("SIGNIN_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# Refused attempts are not counted: the lock ends a known time after the last failure.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_CLIENT_IP_CALLABLE = "security.lockout.client_ip"
AXES_USERNAME_CALLABLE = "security.lockout.username_from"
AXES_LOCKOUT_CALLABLE = "security.lockout.lockout_response"
AXES_HTTP_RESPONSE_CODE = 429
AXES_DISABLE_ACCESS_LOG = True  # failures are what matters; successes are not kept

# API tokens (django-rest-knox): hashed at rest, a new one per sign-in, expiring.
REST_KNOX = {
    "TOKEN_TTL": timedelta(hours=env_int("API_TOKEN_TTL_HOURS", 10, minimum=1)),
    "AUTH_HEADER_PREFIX": "Token",
    "AUTO_REFRESH": False,
}

# Password-reset e-mails: at most this many per hour per account and per client address;
# past either, the same neutral confirmation page and no e-mail (security.reset).
PASSWORD_RESET_LIMIT_PER_ACCOUNT = env_int("PASSWORD_RESET_LIMIT_PER_ACCOUNT", 3, minimum=1)
PASSWORD_RESET_LIMIT_PER_ADDRESS = env_int("PASSWORD_RESET_LIMIT_PER_ADDRESS", 10, minimum=1)
PASSWORD_RESET_WINDOW_SECONDS = 3600

# Content-Security-Policy (django-csp 4): nothing inline but nonce'd scripts; the API's
# Swagger UI page adds the nonce to style-src for itself only (api/docs.py).
from csp.constants import NONCE, NONE, SELF  # noqa: E402

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
        "base-uri": [SELF],
        "object-src": [NONE],
    }
}

# Second factor (django-otp, TOTP) for staff accounts; mandatory for these roles (comma-
# separated; in production by default the roles that sign and pay). security/otp.py.
_OTP_ROLES = {
    "instructor",
    "embassy",
    "prefecture",
    "partner",
    "reviewer",
    "secretary",
    "signatory",
    "finance",
    "admin",
}
OTP_REQUIRED_ROLES = env_list("OTP_REQUIRED_ROLES", ["signatory", "finance"] if PRODUCTION else [])
if set(OTP_REQUIRED_ROLES) - _OTP_ROLES:
    raise ImproperEnv(
        f"OTP_REQUIRED_ROLES={','.join(OTP_REQUIRED_ROLES)!r}: unknown role(s) "
        f"{', '.join(sorted(set(OTP_REQUIRED_ROLES) - _OTP_ROLES))} (staff roles: {', '.join(sorted(_OTP_ROLES))})"
    )
OTP_TOTP_ISSUER = "Appels à projets"

# === end of sign-in doors, API tokens, CSP, second factor ===============================


def _refusals_on_one_line(record: logging.LogRecord) -> bool:
    """A refused request (4xx: 403, 404, 400…) is one log line, not a traceback.

    Django logs a PermissionDenied with its traceback (`exc_info`); a refusal is an
    expected outcome, so the line keeps the refusal's reason (as the user read it) and
    drops the traceback. Server errors (5xx) keep theirs.
    """
    status = getattr(record, "status_code", None)
    if isinstance(status, int) and status < 500 and record.exc_info:
        exc = record.exc_info[1]
        reason = " ".join(str(exc).split()) if exc is not None else ""
        if reason:
            record.msg, record.args = f"{record.getMessage()} ({reason})", ()
        record.exc_info, record.exc_text = None, None
    return True


LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"refusals_on_one_line": {"()": "django.utils.log.CallbackFilter", "callback": _refusals_on_one_line}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        # The handler's filter also covers django.security.* (400s for suspicious requests),
        # which reach it by propagation, where a logger's own filter does not apply.
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["refusals_on_one_line"]}
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL") or "INFO"},
    "loggers": {
        # Django's own handlers (a DEBUG-only console, mail_admins without ADMINS) removed:
        # django.* propagates to the root's console, so each event is printed once.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.request": {"filters": ["refusals_on_one_line"]},
        "django.db.backends": {"level": "INFO"},
        # WeasyPrint's font subsetting and progress logs print dozens of lines per render.
        # (Its "Using fontTools instead of HarfBuzz-Subset" warning on every PDF means the
        # system lacks libharfbuzz-subset0: install it, see the README.)
        "fontTools": {"level": "WARNING"},
        "weasyprint.progress": {"level": "WARNING"},
    },
}
