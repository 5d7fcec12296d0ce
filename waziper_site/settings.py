"""Django settings for waziper, all from the environment (see README's configuration table)."""

from __future__ import annotations

import os
import secrets
import tempfile
from datetime import timedelta
from pathlib import Path

import dj_database_url
from corsheaders.defaults import default_headers

from waziper_site.config import (
    SettingsError,
    check_database_url,
    env_bool,
    env_list,
    load_waziper_settings,
)

BASE_DIR = Path(__file__).resolve().parent.parent
ENV = os.environ


def _secret_key() -> str:
    """The environment's key, a key file's, or one generated once into a 0600 file git ignores."""
    if ENV.get("DJANGO_SECRET_KEY"):
        return ENV["DJANGO_SECRET_KEY"]
    path = Path(ENV.get("DJANGO_SECRET_KEY_FILE") or BASE_DIR / ".secret_key")
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    key = secrets.token_urlsafe(50)
    try:
        # O_EXCL: two processes starting at once must not overwrite each other's key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    except OSError as exc:
        raise SettingsError(f"DJANGO_SECRET_KEY is unset and {path} cannot be created: {exc}") from None
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


SECRET_KEY = _secret_key()
DEBUG = env_bool(ENV, "DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list(ENV, "DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list(ENV, "DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "axes",
    "corsheaders",
    "instances",
    "breaker",
    "queueing",
    "inbox",
    "directory",
    "webhooks",
    "dashboard",
    "worker",
    "cli",
    "waziper_site",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Before anything routes: Waziper's paths match whatever their case and trailing slash.
    "waziper_site.paths.WaziperPathMiddleware",
    # Before anything that answers (whitenoise, CommonMiddleware), as django-cors-headers asks.
    "corsheaders.middleware.CorsMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: turns a locked-out login into its 429 page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "waziper_site.urls"
ASGI_APPLICATION = "waziper_site.asgi.application"
# Waziper's paths have no trailing slash (`/health`, `/get_qrcode`); never redirect POSTs.
APPEND_SLASH = False

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
            ],
        },
    },
]

# --- database -------------------------------------------------------------------------------
DATABASE_URL = check_database_url(ENV.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
_db = dj_database_url.parse(DATABASE_URL, conn_max_age=0)
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server read while the worker writes; IMMEDIATE takes the write lock at
    # BEGIN so two processes never deadlock upgrading read locks; the busy timeout waits out
    # the other process's short transactions instead of failing with "database is locked".
    _db["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    # Tests start real daphne and worker processes, which must see the test database: a file,
    # one per test run (its pid) unless WAZIPER_TEST_DB names one, so concurrent runs in one
    # checkout never share or delete each other's.
    _test_db = Path(tempfile.gettempdir()) / f"waziper-test-{os.getpid()}.sqlite3"
    _db["TEST"] = {"NAME": ENV.get("WAZIPER_TEST_DB") or str(_test_db)}
else:
    _db["CONN_HEALTH_CHECKS"] = True
DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The database carries events between web and worker processes (docs/architecture.md, "The
# outbox"); the layer only fans out inside one web process.
CHANNEL_LAYERS = {"default": {"BACKEND": "live.layer.ThrottledInMemoryChannelLayer"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)  # whitenoise warns on every start if it is missing
STATICFILES_DIRS = [BASE_DIR / "static"]
# Serve straight from the apps' static folders: a fresh clone needs no collectstatic step.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

SESSION_COOKIE_HTTPONLY = True
# Behind a TLS-terminating reverse proxy that sets X-Forwarded-Proto: secure cookies, HSTS and a
# redirect of plain HTTP (except /health, which load balancers probe over HTTP).
if env_bool(ENV, "DJANGO_HTTPS", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = True
    SECURE_REDIRECT_EXEMPT = [r"^health$"]
    SECURE_HSTS_SECONDS = 31_536_000
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
# Bodies above this are refused with 413 before any view parses them.
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 2**20

# --- waziper --------------------------------------------------------------------------------
_waziper = load_waziper_settings(ENV)
globals().update(_waziper)
WAZIPER_SESSIONS_DIR = str((BASE_DIR / _waziper["WAZIPER_SESSIONS_DIR"]).resolve())

# Cross-origin access as Waziper's server allows it (`Access-Control-Allow-Origin: *`), configurable
# with WAZIPER_CORS_ORIGINS, never with credentials: the API authenticates by token, and no
# other site may make a browser send its cookies (the admin's session) along. The admin is not
# offered to other origins at all.
CORS_ALLOW_ALL_ORIGINS = _waziper["WAZIPER_CORS_ORIGINS"] == ["*"]
CORS_ALLOWED_ORIGINS = [] if CORS_ALLOW_ALL_ORIGINS else _waziper["WAZIPER_CORS_ORIGINS"]
CORS_ALLOW_CREDENTIALS = False
CORS_URLS_REGEX = r"^(?!/admin(/|$)).*$"
CORS_ALLOW_HEADERS = (*default_headers, "idempotency-key")
CORS_EXPOSE_HEADERS = ["Retry-After"]

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["instances.auth.AccessTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "kernel.negotiation.FirstRendererFallback",
    "DEFAULT_PARSER_CLASSES": [
        "kernel.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "EXCEPTION_HANDLER": "kernel.envelope.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # Counted in the database, shared by every web process (instances/throttling.py).
    "DEFAULT_THROTTLE_CLASSES": ["instances.throttling.TokenRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"token": _waziper["WAZIPER_THROTTLE_RATE"]},
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

# Per process on purpose: it only holds /health's figures for a second. Throttles and login
# lockouts must be shared by every process, so they live in the database (instances/throttling.py,
# django-axes' database handler), not in a cache.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Admin login lockout (django-axes): WAZIPER_LOGIN_FAILURE_LIMIT failed logins for one username
# from one address lock that pair out for WAZIPER_LOGIN_COOLOFF seconds (429); attempts are
# kept in the database, so every web process sees them. Addresses as the throttles see them.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = globals()["WAZIPER_LOGIN_FAILURE_LIMIT"]
AXES_COOLOFF_TIME = timedelta(seconds=globals()["WAZIPER_LOGIN_COOLOFF"])
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_CLIENT_IP_CALLABLE = "kernel.clientaddr.from_request"
AXES_RESET_ON_SUCCESS = True

SPECTACULAR_SETTINGS = {
    "TITLE": "waziper API",
    "DESCRIPTION": "Self-hosted multi-instance WhatsApp gateway (Waziper-compatible paths).",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "WebhookFormatEnum": "webhooks.models.WebhookEndpoint.Format",
    },
}

# --- logging --------------------------------------------------------------------------------
LOG_DIR = Path(ENV.get("WAZIPER_LOG_DIR") or BASE_DIR / "logs")
LOG_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
LOG_LEVEL = (ENV.get("WAZIPER_LOG_LEVEL") or "INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
        "file": {
            # Files 0600, after a rotation too (waziper_site/logfiles.py).
            "class": "waziper_site.logfiles.PrivateRotatingFileHandler",
            "filename": str(LOG_DIR / "server.log"),
            "maxBytes": 10 * 2**20,
            "backupCount": 5,
            "formatter": "plain",
            "delay": True,
        },
    },
    "root": {"handlers": ["console", "file"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "daphne": {"level": "WARNING"},
        "axes.apps": {"level": "WARNING"},  # its start-up banner, in every manage.py command
        "twisted": {"level": "WARNING"},
        # A line per request would be a line per webhook delivery; outcomes are in the
        # delivery log, and failures are logged by webhooks.deliveries.
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
    },
}
