"""Django settings for Tracker.

Everything that differs between a laptop, CI and production comes from the environment, with safe local
defaults so that `make run` works on a fresh machine. Production mode (`DJANGO_DEBUG` unset or false and
`TRACKER_ENV=production`) refuses to start without an explicit SECRET_KEY and ALLOWED_HOSTS.
"""

import os
from pathlib import Path

import dj_database_url
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
DEBUG = env_bool("DJANGO_DEBUG", not PRODUCTION)

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
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
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

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", "postgis://tracker:tracker@127.0.0.1:5432/tracker"),
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "0")),
        engine="django.contrib.gis.db.backends.postgis",
    )
}
# A request must not hang for minutes when PostgreSQL is unreachable: fail fast and answer 503.
DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 3)

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")

# RedisPubSubChannelLayer: a group_send is one PUBLISH that each server process receives once and fans out
# in memory, where RedisChannelLayer writes one copy of the message per socket into Redis. Pub/sub delivers
# at most once; the Event log (tracker.events) closes that gap by replaying anything a socket missed.
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": os.environ.get("CHANNEL_LAYER_BACKEND", "channels_redis.pubsub.RedisPubSubChannelLayer"),
        "CONFIG": {
            "hosts": [REDIS_URL],
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
STATIC_ROOT = BASE_DIR / "staticfiles"
# The Vite build (frontend/dist) is collected like any app's static files and hashed by the storage below.
STATICFILES_DIRS = [BASE_DIR / "frontend" / "dist"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
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
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Tracker API",
    "DESCRIPTION": "Geo incident tracker: incidents, areas of interest, alerts and the replayable event log.",
    "VERSION": "1.0.0",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

TRACKER = {
    # How long the event log keeps events; a client resuming from before this gets {"type": "resync"}.
    "EVENT_RETENTION_HOURS": int(os.environ.get("TRACKER_EVENT_RETENTION_HOURS", "72")),
    # Most events replayed to one resuming socket before it is told to resync over REST instead.
    "REPLAY_LIMIT": int(os.environ.get("TRACKER_REPLAY_LIMIT", "5000")),
    # Seconds between server pings on an idle socket.
    "HEARTBEAT_SECONDS": float(os.environ.get("TRACKER_HEARTBEAT_SECONDS", "30")),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
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

SILENCED_SYSTEM_CHECKS = [
    # gis.W001: Debian 12's GDAL 3.6 cannot block file/network access from spatial references. Geometry input
    # reaches GDAL only as plain GeoJSON through the API serializers, which refuse a "crs" member, so no
    # request can name a file or URL for GDAL to open.
    "gis.W001",
]
