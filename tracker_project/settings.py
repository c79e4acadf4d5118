"""Django settings for Tracker.

Everything that differs between a laptop, CI and production comes from the environment, with safe local
defaults so that `make run` works on a fresh machine. DEBUG is off unless DJANGO_DEBUG=1. Production mode
(`TRACKER_ENV=production`) refuses to start without an explicit SECRET_KEY and ALLOWED_HOSTS, and adds HTTPS
only, secure cookies, HSTS and JSON logs.
"""

import os
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    """Return the boolean value of environment variable `name` (1/true/yes/on), or `default` if unset."""
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    """Return the comma-separated environment variable `name` as a list of non-empty, stripped items."""
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


PRODUCTION = os.environ.get("TRACKER_ENV", "development") == "production"
# Off unless asked for, in development too: debug pages show settings and source, and DEBUG keeps every SQL
# query in memory.
DEBUG = env_bool("DJANGO_DEBUG", False)

if PRODUCTION:
    missing = [name for name in ("SECRET_KEY", "ALLOWED_HOSTS") if not os.environ.get(name)]
    if missing:
        raise ImproperlyConfigured(f"TRACKER_ENV=production needs {', '.join(missing)} in the environment")
    SECRET_KEY = os.environ["SECRET_KEY"]
else:
    # A fixed key is fine for local development only; production refuses to start without its own.
    SECRET_KEY = os.environ.get("SECRET_KEY", "django-insecure-local-development-key-not-for-production-use")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

# Security headers and cookies. Everywhere: no MIME sniffing, no framing, no referrer to other origins,
# session cookie out of reach of scripts. In production (TLS terminates at nginx, which sets
# X-Forwarded-Proto): HTTPS only, secure cookies, HSTS. `manage.py check --deploy` passes with these.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
# Failed sign-ins allowed per client address and window (django-ratelimit syntax); beyond it, 429 until the
# window ends (tracker.security.login_rate.LoginRateLimitMiddleware). Behind nginx the ASGI server's --proxy-headers
# makes REMOTE_ADDR the client's address.
LOGIN_FAILURE_RATE = os.environ.get("TRACKER_LOGIN_FAILURE_RATE", "10/5m")
# Counted per the address the API's throttles use (REST_FRAMEWORK["NUM_PROXIES"]).
RATELIMIT_IP_META_KEY = "tracker.security.login_rate.client_address"
if PRODUCTION:
    # Trusted only because nginx overwrites the header; set TRACKER_TLS_PROXY=0 when nothing does.
    if env_bool("TRACKER_TLS_PROXY", True):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    # Paths (regexes, no leading slash) still answered over plain HTTP: the health check probes the ASGI
    # processes directly, not through nginx.
    SECURE_REDIRECT_EXEMPT = env_list("SECURE_REDIRECT_EXEMPT", r"^healthz$")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", str(365 * 24 * 3600)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.gis",
    "rest_framework",
    "rest_framework.authtoken",
    "rest_framework_gis",
    "django_filters",
    "leaflet",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "tracker.apps.TrackerConfig",
]

MIDDLEWARE = [
    "tracker.ops.logs.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Under /api/: JSON errors from every layer below, and 413 for a body over the limit before it is read.
    "tracker.api.middleware.ApiErrorsMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "tracker.security.login_rate.LoginRateLimitMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # PostgreSQL unreachable: 503 (JSON for the API) instead of a 500.
    "tracker.health.DatabaseUnavailableMiddleware",
]

ROOT_URLCONF = "tracker_project.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

ASGI_APPLICATION = "tracker_project.asgi.application"

# PostgreSQL connections come from a pool per server process (psycopg_pool, Django's OPTIONS["pool"]). Under
# ASGI every sync request runs in a thread of its own, and Django's connections are per thread, so without a
# pool each request opened (and authenticated, and configured) a new connection whatever CONN_MAX_AGE said:
# 55 ms for a one-row API answer that takes 15 ms in-process (`make bench`, item 5). Each thread now borrows a
# connection and gives it back when Django closes it (end of request, or after each database_sync_to_async
# call of a consumer), so CONN_MAX_AGE must be 0: Django refuses a pool with persistent connections.
# TRACKER_DB_POOL=0 goes back to a connection per thread, kept for DB_CONN_MAX_AGE seconds.
DB_POOL = env_bool("TRACKER_DB_POOL", True)
DB_CONN_MAX_AGE = int(os.environ.get("DB_CONN_MAX_AGE", "0"))
if DB_POOL and DB_CONN_MAX_AGE:
    raise ImproperlyConfigured("DB_CONN_MAX_AGE must be 0 with the connection pool (or set TRACKER_DB_POOL=0)")
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", "postgis://tracker:tracker@127.0.0.1:5432/tracker"),
        conn_max_age=DB_CONN_MAX_AGE,
        # PostGIS, with event ids assigned right before each COMMIT (tracker.stream.ids).
        engine="tracker.stream.dbbackend",
    )
}
# A request must not hang for minutes when PostgreSQL is unreachable: fail fast and answer 503.
DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 3)
# Every connection is checked before use (one empty round trip: a pooled one handed out by the pool, a
# persistent one at the start of a request), so one broken by a database restart or a network cut while idle
# is replaced instead of failing the request.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DB_POOL:
    DATABASES["default"]["OPTIONS"]["pool"] = {
        # Connections kept open while idle: the sync thread of the consumers and a request or two, so that a
        # quiet process does not pay a connect on its next request.
        "min_size": int(os.environ.get("TRACKER_DB_POOL_MIN", "2")),
        # The most this process holds: the sync views (one thread each under ASGI) and the consumers' database
        # calls that run at once. The pool is per process: N server processes hold up to N times this, and
        # the default 10 keeps the deployment's 4 processes (deploy/systemd) well under PostgreSQL's default
        # max_connections of 100, with room for the workers, the prune timer and a shell.
        "max_size": int(os.environ.get("TRACKER_DB_POOL_MAX", "10")),
        # Seconds a request waits for a connection (all busy, or PostgreSQL unreachable) before it fails with
        # OperationalError, answered 503 {"code": "database_unavailable"} (tracker.health): the same bound as
        # connect_timeout, never a hang.
        "timeout": float(os.environ.get("TRACKER_DB_POOL_TIMEOUT", "3")),
        # While PostgreSQL is away the pool retries each connection with exponential backoff (1, 2, 4 ... s)
        # and gives up after this; the next request then starts a fresh attempt at once. Short, so that the
        # service is back within a few seconds of the database, whatever the outage lasted (psycopg_pool's
        # default of 300 s would let the backoff grow to minutes).
        "reconnect_timeout": float(os.environ.get("TRACKER_DB_POOL_RECONNECT_TIMEOUT", "5")),
    }

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")

# Shared by every server process, so rate limits (login, DRF throttles) hold across all of them. A Redis
# outage lapses the limits instead of failing the requests (tracker.cache).
CACHES = {
    "default": {
        "BACKEND": "tracker.cache.FailOpenRedisCache",
        "LOCATION": os.environ.get("CACHE_URL", REDIS_URL),
        "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", "tracker"),
        "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
    }
}

# RedisPubSubChannelLayer: a group_send is one PUBLISH that each server process receives once and fans out
# in memory, where RedisChannelLayer writes one copy of the message per socket into Redis. Pub/sub delivers
# at most once; the Event log (tracker.stream.eventlog) closes that gap by replaying anything a socket missed.
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": os.environ.get("CHANNEL_LAYER_BACKEND", "channels_redis.pubsub.RedisPubSubChannelLayer"),
        "CONFIG": {
            # Bounded connects: a write's publish and a socket's subscription fail fast while Redis is away
            # (the event log covers the gap) instead of hanging.
            "hosts": [{"address": REDIS_URL, "socket_connect_timeout": 2, "socket_keepalive": True}],
            "prefix": os.environ.get("CHANNEL_LAYER_PREFIX", "tracker"),
        },
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
# The Vite build (frontend/dist) is collected like any app's static files and hashed by the storage below.
STATICFILES_DIRS = [BASE_DIR / "frontend" / "dist"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            # WhiteNoise's hashed names and compression, with the frontend's module imports rewritten too.
            "tracker.storage.StaticFilesStorage"
            if not DEBUG
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

REST_FRAMEWORK = {
    # Token first: the first authenticator's WWW-Authenticate header is what makes DRF answer a request
    # without credentials 401 rather than 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "tracker.security.tokens.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON in and out only (GeoJSON is JSON): no browsable-API HTML, no form bodies.
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["tracker.api.parsers.JSONParser", "tracker.api.parsers.GeoJSONParser"],
    "EXCEPTION_HANDLER": "tracker.api.exceptions.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "tracker.api.schema.AutoSchema",
    # Public report endpoint (tracker.api.throttling): reports per client address, "N/second|minute|hour|day".
    "DEFAULT_THROTTLE_RATES": {"report": os.environ.get("TRACKER_REPORT_RATE", "10/hour")},
    # The client address is REMOTE_ADDR, which the ASGI server's --proxy-headers sets from nginx's
    # X-Forwarded-For; a client-sent X-Forwarded-For is never trusted directly.
    "NUM_PROXIES": int(os.environ.get("TRACKER_NUM_PROXIES", "0")),
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Tracker API",
    "DESCRIPTION": "Geo incident tracker: incidents, areas of interest, alerts and the replayable event log.",
    "VERSION": "1.0.0",
    # 3.1 (JSON Schema 2020-12): a GeoJSON position is a tuple whose longitude and latitude ranges differ
    # (prefixItems), which 3.0 cannot say.
    "OAS_VERSION": "3.1.0",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Separate request and response components: a request Feature has no id and no read-only properties.
    "COMPONENT_SPLIT_REQUEST": True,
    # One named enum per choice set (severity and threshold share one; the GeoJSON "type" members differ).
    "ENUM_NAME_OVERRIDES": {
        "SeverityEnum": "tracker.api.fields.SEVERITY_NAMES",
        "EventTypeEnum": "tracker.models.EventType",
        "FeatureTypeEnum": ["Feature"],
        "FeatureCollectionTypeEnum": ["FeatureCollection"],
    },
    # Tags and operation ids from the resource ("incidents_list"), not the version prefix.
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "SERVE_INCLUDE_SCHEMA": False,
}

TRACKER = {
    # How long the event log keeps events; a client resuming from before this gets {"type": "resync"}.
    "EVENT_RETENTION_HOURS": int(os.environ.get("TRACKER_EVENT_RETENTION_HOURS", "72")),
    # Most events replayed to one resuming socket before it is told to resync over REST instead.
    "REPLAY_LIMIT": int(os.environ.get("TRACKER_REPLAY_LIMIT", "5000")),
    # Seconds between server pings on an idle socket.
    "HEARTBEAT_SECONDS": float(os.environ.get("TRACKER_HEARTBEAT_SECONDS", "30")),
    # Seconds between a server process's catch-up ticks (tracker.stream.fanout): one indexed MAX(id) query per process
    # per tick; an event whose publish was lost (Redis down) reaches the sockets within two ticks.
    "CATCHUP_SECONDS": float(os.environ.get("TRACKER_CATCHUP_SECONDS", "1")),
    # Most live events queued for one socket that is not reading them (tracker.stream.delivery); one more and it
    # is closed with 4408, to reconnect and resume from the log. A bound on the memory a stalled client holds.
    "SOCKET_BACKLOG": int(os.environ.get("TRACKER_SOCKET_BACKLOG", "1000")),
    # Longest a committed write waits for its broadcast before leaving it to the catch-up.
    "PUBLISH_TIMEOUT_SECONDS": float(os.environ.get("TRACKER_PUBLISH_TIMEOUT_SECONDS", "2")),
    # Per-check bound of /healthz (database and Redis are checked concurrently).
    "HEALTH_TIMEOUT_SECONDS": float(os.environ.get("TRACKER_HEALTH_TIMEOUT_SECONDS", "2")),
}

# Production logs are one JSON object per line (requests: tracker.ops.logs.RequestLogMiddleware; pushed events:
# tracker.ops.logs.log_event_pushed); development keeps readable lines. LOG_FORMAT=json|plain overrides.
LOG_FORMAT = os.environ.get("LOG_FORMAT", "json" if PRODUCTION else "plain")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        # One DEBUG line per transaction that logs events: its first event id, how many, and how long it held
        # the event counter's lock (tracker.stream.ids). TRACKER_IDS_LOG_LEVEL=DEBUG turns them on (bench/).
        "tracker.stream.ids": {"level": os.environ.get("TRACKER_IDS_LOG_LEVEL", "WARNING")},
    },
}

# Admin map widget: start near the demo data; tiles load from the configurable tile URL.
TILE_URL = os.environ.get("TRACKER_TILE_URL", "https://tile.openstreetmap.org/{z}/{x}/{y}.png")
TILE_ATTRIBUTION = os.environ.get("TRACKER_TILE_ATTRIBUTION", "&copy; OpenStreetMap contributors")
MAP_CENTER = (float(os.environ.get("TRACKER_MAP_LON", "-58.3816")), float(os.environ.get("TRACKER_MAP_LAT", "-34.6037")))
MAP_ZOOM = int(os.environ.get("TRACKER_MAP_ZOOM", "12"))
LEAFLET_CONFIG = {
    "DEFAULT_CENTER": (MAP_CENTER[1], MAP_CENTER[0]),
    "DEFAULT_ZOOM": MAP_ZOOM,
    "TILES": [("Map", TILE_URL, {"attribution": TILE_ATTRIBUTION})],
}

# Content Security Policy (django-csp): no inline script anywhere; the admin's map widget (django-leaflet)
# marks its inline set-up script with the per-response nonce, which the header carries only when a page used
# it. Map tiles load from TILE_URL's origin ("{s}" subdomains become a wildcard). 'self' in connect-src also
# covers ws:/wss: to the same host (CSP Level 3), so the live socket needs no extra source.
_tile_origin = urlsplit(TILE_URL)
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF],
        "img-src": [SELF, "data:"]
        + ([f"{_tile_origin.scheme}://{_tile_origin.netloc.replace('{s}', '*')}"] if _tile_origin.netloc else []),
        "connect-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    }
}

SILENCED_SYSTEM_CHECKS = [
    # gis.W001: Debian 12's GDAL 3.6 cannot block file/network access from spatial references. Geometry input
    # reaches GDAL only as plain GeoJSON through the API serializers, which refuse a "crs" member, so no
    # request can name a file or URL for GDAL to open.
    "gis.W001",
]
