"""Settings shared by every environment.

Deployment-specific values are read from environment variables:

DATABASE_URL      postgis://user:password@host:port/name (PostGIS is required), the
                  runtime role the web server and Celery use
DATABASE_OWNER_URL  the same database as its owner role, used only by migrate
REDIS_URL         redis://host:port/db - Celery broker, channel layer, cache
SECRET_KEY        required in production
ALLOWED_HOSTS     comma-separated host names
DEBUG             true / false
MEDIA_ROOT        where uploaded files live with the default file storage
MEDIA_URL         URL prefix of uploaded files
MEDIA_STORAGE_BACKEND  dotted path of the storage class for uploads
MEDIA_STORAGE_OPTIONS  JSON object of options for that class (bucket, endpoint...)
PHOTOS_ACCEL_REDIRECT_PREFIX, PHOTOS_SENDFILE, PHOTOS_URL_MAX_AGE,
PHOTOS_ORPHAN_MIN_AGE  how case photos are served and cleaned up (see below)
MAP_TILE_URL      tile URL template for maps (empty: boundaries on a blank map)
CHANNEL_LAYER_TIMEOUT  seconds before a live push to an unreachable Redis gives up
CHANNEL_REDIS_URLS, CHANNEL_REDIS_MASTERS, REDIS_SENTINELS, REDIS_SENTINEL_MASTER,
REDIS_SENTINEL_PASSWORD, REDIS_CACHE_URL  Redis shards and Sentinel (see below)
"""

import re
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import environ
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from core import redis_settings

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()

DEFAULT_DATABASE_URL = "postgis://governance_app:governance_app@127.0.0.1:54329/governance"
DEFAULT_DATABASE_OWNER_URL = "postgis://governance:governance@127.0.0.1:54329/governance"
DEFAULT_REDIS_URL = "redis://127.0.0.1:63790/0"

SECRET_KEY = env("SECRET_KEY", default="insecure-local-development-key-never-used-in-production")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
# Origins besides the site's own whose pages may post forms and, with the same
# scheme, host and port, open live connections (notifications.auth).
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "channels",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.gis",
    "django.contrib.postgres",
    # Shared plumbing (errors, API helpers, throttles, the two database roles:
    # migrate as the owner role, then grant the runtime role); before the domain apps.
    "core",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",  # list filters; its templates for the browsable API's filter form
    "axes",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "django_celery_beat",
    "leaflet",
    "csp",
    "organisation",
    "grids",
    "cases",
    "notifications",
    "field",  # the grid worker's phone app
    "demo",  # seed_demo_city; the production settings leave it out
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Read-your-own-writes when some reads go to a replica (core/dbrouting.py).
    "core.dbrouting.ReplicaMiddleware",
    "notifications.middleware.LiveOriginMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: turns a locked-out sign-in into organisation.sign_in.locked_out's answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "governance.urls"
ASGI_APPLICATION = "governance.asgi.application"
WSGI_APPLICATION = "governance.wsgi.application"

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
                "csp.context_processors.nonce",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------
DATABASES = {"default": env.db_url("DATABASE_URL", default=DEFAULT_DATABASE_URL)}
# GeoDjango needs the PostGIS backend whatever scheme the URL was written with.
DATABASES["default"]["ENGINE"] = "django.contrib.gis.db.backends.postgis"
# HTTP requests run in long-lived gunicorn worker processes (deploy/gunicorn.conf.py):
# each keeps its connection between requests.
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=300))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Two roles (core.dbroles, README "Database roles"): DATABASE_URL is the
# runtime role (no superuser, owns nothing, may only read and append to the
# case event log); DATABASE_OWNER_URL the owner, whose user, password, host and
# port only `migrate` uses. Give it only to the process that migrates. Its
# default is the private cluster's owner, and only while DATABASE_URL is unset
# too: a database named elsewhere is never migrated through the default one.
if env("DATABASE_OWNER_URL", default=""):
    DATABASE_OWNER = env.db_url("DATABASE_OWNER_URL")
elif env("DATABASE_URL", default=""):
    DATABASE_OWNER = None  # one role: migrate runs as DATABASE_URL's
else:
    DATABASE_OWNER = env.db_url_config(DEFAULT_DATABASE_OWNER_URL)
# Server-side prepared statements for the few hot statements that ask for them
# (core.db: API token, the user's scope, point-to-grid). Django's own
# queries bind client-side and never prepare.
# Set DB_PREPARE_THRESHOLD=none behind a pooler that cannot keep them.
_prepare = env("DB_PREPARE_THRESHOLD", default="5").strip().lower()
DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = (
    None if _prepare in ("", "none", "off") else int(_prepare)
)


# A pool (psycopg_pool) instead of persistent connections, DB_POOL_MAX_SIZE per
# process (0, the default: off). Persistent connections on the HTTP threads cost
# less per request (bench/http_api.py); a pool bounds the connections when a
# process has many more threads than requests in flight.
def use_pool(databases: dict, default_size: int) -> int:
    """Pool the default database's connections, DB_POOL_MAX_SIZE per process."""
    size = env.int("DB_POOL_MAX_SIZE", default=default_size)
    if size:
        databases["default"]["CONN_MAX_AGE"] = 0  # Django refuses a pool otherwise
        databases["default"]["OPTIONS"]["pool"] = {
            "min_size": min(env.int("DB_POOL_MIN_SIZE", default=2), size),
            "max_size": size,
            "timeout": env.float("DB_POOL_TIMEOUT", default=10.0),
        }
    return size


DB_POOL_MAX_SIZE = use_pool(DATABASES, default_size=0)
# Streaming replicas for reads that may lag (core/dbrouting.py, docs/replicas.md):
# DATABASE_REPLICA_URLS, comma-separated, each a hot standby of DATABASE_URL's
# database as the runtime role, become the aliases replica_1, replica_2…; only
# reads that opt in go there. After a client or user writes, their reads stay
# on the primary for REPLICA_STICKY_SECONDS (read-your-own-writes).
# Tests never create, flush or migrate them: they mirror the primary. A URL may
# itself hold commas (libpq's host list, h1:5432,h2:5432): URLs are split only
# before the next scheme.
_replica_urls = re.split(r",\s*(?=[a-z][a-z0-9+.-]*://)", env("DATABASE_REPLICA_URLS", default=""))
for _number, _url in enumerate(filter(None, map(str.strip, _replica_urls)), start=1):
    _replica = env.db_url_config(_url)
    DATABASES[f"replica_{_number}"] = {
        **_replica,
        "ENGINE": DATABASES["default"]["ENGINE"],
        "CONN_MAX_AGE": DATABASES["default"]["CONN_MAX_AGE"],
        "CONN_HEALTH_CHECKS": True,
        "OPTIONS": {**DATABASES["default"]["OPTIONS"], **_replica.get("OPTIONS", {})},
        "TEST": {"MIRROR": "default"},
    }
DATABASE_ROUTERS = ["core.dbrouting.ReplicaRouter"]
REPLICA_STICKY_SECONDS = env.int("REPLICA_STICKY_SECONDS", default=10)
# Load shedding (governance/load_shedding.py): a request that waited longer
# than REQUEST_QUEUE_TIMEOUT_MS between nginx and a gunicorn worker (0: no
# limit) is answered 503 with Retry-After: REQUEST_RETRY_AFTER_SECONDS.
REQUEST_QUEUE_TIMEOUT_MS = env.int("REQUEST_QUEUE_TIMEOUT_MS", default=250)
REQUEST_RETRY_AFTER_SECONDS = env.int("REQUEST_RETRY_AFTER_SECONDS", default=1)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "organisation.User"
AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out (user name, address) pair before any password check.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "workbench"
LOGOUT_REDIRECT_URL = "login"
# Sign-in lockout (django-axes; organisation/sign_in.py) on /accounts/login/ and
# /admin/login/: SIGN_IN_FAILURE_LIMIT failures for one user name from one
# client address lock that pair for SIGN_IN_LOCKOUT_MINUTES (a failure while
# locked starts the wait again); a success clears the count. Attempts are kept
# in the database; administrators unlock from the user list or axes' admin.
AXES_FAILURE_LIMIT = env.int("SIGN_IN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("SIGN_IN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "core.client_address.client_ip"
AXES_LOCKOUT_CALLABLE = "organisation.sign_in.locked_out"
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"

# --- Redis: broker, channel layer, cache ---------------------------------------
REDIS_URL = env("REDIS_URL", default=DEFAULT_REDIS_URL)
# Scaling out (docs/scaling.md, "Redis"): the channel layer sharded across
# several Redis servers (CHANNEL_REDIS_URLS, comma-separated, the same list in
# the same order on every node), or Redis Sentinel for the broker and the
# layer (REDIS_SENTINELS host:port list, REDIS_SENTINEL_MASTER; with
# CHANNEL_REDIS_MASTERS the layer shards across several monitored masters).
# Under Sentinel, REDIS_URL gives only the database number and password.
# The cache has no Sentinel client: it stays on REDIS_CACHE_URL. Malformed
# values are reported by manage.py check (core/checks.py).
CHANNEL_REDIS_URLS = redis_settings.split_list(env("CHANNEL_REDIS_URLS", default=""))
REDIS_SENTINELS = redis_settings.split_list(env("REDIS_SENTINELS", default=""))
REDIS_SENTINEL_MASTER = env("REDIS_SENTINEL_MASTER", default="")
REDIS_SENTINEL_PASSWORD = env("REDIS_SENTINEL_PASSWORD", default="")
CHANNEL_REDIS_MASTERS = redis_settings.split_list(
    env("CHANNEL_REDIS_MASTERS", default=REDIS_SENTINEL_MASTER)
)
REDIS_CACHE_URL = env("REDIS_CACHE_URL", default=REDIS_URL)

CELERY_BROKER_URL, CELERY_BROKER_TRANSPORT_OPTIONS = redis_settings.celery_broker(
    redis_url=REDIS_URL,
    sentinels=REDIS_SENTINELS,
    master=REDIS_SENTINEL_MASTER,
    sentinel_password=REDIS_SENTINEL_PASSWORD,
)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "Asia/Shanghai"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE = {
    "cases-deadline-sweep": {"task": "cases.tasks.sla_sweep", "schedule": 60.0},
    "cases-thumbnail-catch-up": {"task": "cases.tasks.thumbnail_catch_up", "schedule": 600.0},
    "cases-photo-orphan-cleanup": {
        "task": "cases.tasks.photo_orphan_cleanup",
        "schedule": 24 * 3600.0,
    },
    # Calendar years from their best source: an official year replaces a
    # provisional one once the installed packages have it (cases.holidays).
    "cases-calendar-load": {"task": "cases.tasks.calendar_load", "schedule": 6 * 3600.0},
    # Emails and SMS whose delivery task was lost or failed (notifications.delivery).
    "notifications-delivery-catch-up": {
        "task": "notifications.tasks.deliver_catch_up",
        "schedule": 120.0,
    },
    # From 1 October: administrators told once that next year's calendar is provisional.
    "notifications-provisional-calendar": {
        "task": "notifications.tasks.provisional_calendar_notice",
        "schedule": 6 * 3600.0,
    },
}

# Redis pub/sub: a group message is published once and fanned out to the
# group's connections inside each ASGI process, and groups never expire
# (channels_redis.core copies each message into every member's list and
# drops members from groups after a day). Delivery is at most once either
# way; clients resync from the event log (docs/events.md). Short timeouts
# keep an action's after-commit push from hanging on an unreachable Redis.
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {
            "hosts": redis_settings.channel_layer_hosts(
                redis_url=REDIS_URL,
                channel_urls=CHANNEL_REDIS_URLS,
                sentinels=REDIS_SENTINELS,
                masters=CHANNEL_REDIS_MASTERS,
                sentinel_password=REDIS_SENTINEL_PASSWORD,
                timeout=env.float("CHANNEL_LAYER_TIMEOUT", default=2.0),
            ),
            "prefix": "governance",
        },
    },
}

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_CACHE_URL,
        "KEY_PREFIX": "governance",
    },
}

# --- Internationalisation -------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

# --- Static and media files -----------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / ".state" / "static")
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = env("MEDIA_URL", default="/media/")
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / ".state" / "media")

STORAGES = {
    "default": {
        "BACKEND": env(
            "MEDIA_STORAGE_BACKEND", default="django.core.files.storage.FileSystemStorage"
        ),
        "OPTIONS": env.json("MEDIA_STORAGE_OPTIONS", default={}),
    },
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage",
    },
}
# Case photos are served through /api/v1/photos/<id>/<variant>/ after an
# access check (cases.photo_access), never from MEDIA_URL. With file storage
# the application streams them unless a front server is named: nginx with
# PHOTOS_ACCEL_REDIRECT_PREFIX (an ``internal`` location aliased to
# MEDIA_ROOT), Apache/lighttpd with PHOTOS_SENDFILE. S3-compatible storage is
# private and answered with a redirect to a URL signed for PHOTOS_URL_MAX_AGE
# seconds (also the life of the signed links the tip status gives).
PHOTOS_ACCEL_REDIRECT_PREFIX = env("PHOTOS_ACCEL_REDIRECT_PREFIX", default="")
PHOTOS_SENDFILE = env.bool("PHOTOS_SENDFILE", default=False)
PHOTOS_URL_MAX_AGE = env.int("PHOTOS_URL_MAX_AGE", default=300)
MEDIA_S3_PRIVATE_OPTIONS = {
    "default_acl": "private",
    "querystring_auth": True,
    "querystring_expire": PHOTOS_URL_MAX_AGE,
}
if STORAGES["default"]["BACKEND"].startswith("storages.backends.s3"):
    STORAGES["default"]["OPTIONS"] = {
        **MEDIA_S3_PRIVATE_OPTIONS,
        **STORAGES["default"]["OPTIONS"],
    }
# Photo files no row refers to (written by a transaction that then rolled
# back, or left by a crash) are deleted by a daily task once this old.
PHOTOS_ORPHAN_MIN_AGE = env.int("PHOTOS_ORPHAN_MIN_AGE", default=24 * 3600)
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

# --- REST framework and OpenAPI -------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "organisation.tokens.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": [
        "core.api_errors.JSONParser",
        # Refuse forms whose text is not valid in their charset (UTF-8).
        "core.api_errors.FormParser",
        "core.api_errors.MultiPartParser",
    ],
    # The browsable API's pages under the Content-Security-Policy.
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "core.browsable_api.BrowsableAPIRenderer",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.api_errors.exception_handler",
    # Proxies in front of the app that append to X-Forwarded-For (0: none): the
    # client address of the rate limits and the sign-in lockout
    # (core/client_address.py). Which peers the server itself believes
    # is FORWARDED_ALLOW_IPS, read where servers start (governance/forwarded.py).
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
}
# Rate limits of the public endpoints (core/throttles.py): "N/s|min|hour|day".
RATE_LIMITS = {
    "anonymous_ip": env("RATE_LIMIT_ANONYMOUS_IP", default="60/min"),
    "token": env("RATE_LIMIT_TOKEN", default="120/min"),
    # Sign-in posts per client address, whatever user name (organisation/sign_in.py).
    "sign_in": env("RATE_LIMIT_SIGN_IN", default="30/min"),
}
for _scope, _rate in RATE_LIMITS.items():
    if not re.fullmatch(r"[1-9][0-9]*/(s|sec|second|m|min|minute|h|hour|d|day)", _rate):
        raise ImproperlyConfigured(f"Rate limit {_scope}={_rate!r}: write it as N/min, N/hour…")
SPECTACULAR_SETTINGS = {
    "TITLE": "Urban governance case handling API",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from the installed sidecar package, not from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.openapi.add_error_responses",
    ],
    "ENUM_NAME_OVERRIDES": {
        "UrgencyEnum": "cases.models.Urgency",
        "StatusEnum": "cases.models.Status",
        "SourceEnum": "cases.models.Source",
        "CalendarSourceEnum": "cases.models.CalendarYear.Source",
        "CalendarDayKindEnum": "cases.models.CalendarDay.Kind",
    },
}

# --- Maps -----------------------------------------------------------------------
MAP_TILE_URL = env("MAP_TILE_URL", default="")
LEAFLET_CONFIG = {
    # The Changzhou demo city; deployments point this at their own city.
    "DEFAULT_CENTER": (31.78, 119.75),
    "DEFAULT_ZOOM": 9,
    "TILES": [(_("Base map"), MAP_TILE_URL, {"maxZoom": 19})] if MAP_TILE_URL else [],
    "RESET_VIEW": False,
}


# --- Content-Security-Policy (django-csp) ------------------------------------------
# Scripts and styles only from our own origin (no inline script; the few
# scripts and styles a library writes into its page carry the request's
# nonce; core/browsable_api.py for the browsable API), images
# also from the map's tile server, connections to our origin (HTTP and the
# live WebSocket, ws/wss of the same host) and to CSP_CONNECT_ORIGINS (e.g. a
# WebSocket served from another host: wss://live.city.example.org).
def _csp_source(url: str) -> str | None:
    """The CSP source of a URL template's origin: {s}.tiles.example.org/{z}/…
    becomes https://*.tiles.example.org."""
    parts = urlsplit(url)
    if not (parts.scheme and parts.netloc):
        return None
    labels = parts.netloc.split(".")
    if "{" in labels[0]:
        labels[0] = "*"
    return f"{parts.scheme}://{'.'.join(labels)}"


CSP_CONNECT_ORIGINS = env.list("CSP_CONNECT_ORIGINS", default=[])
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:", "blob:", *filter(None, [_csp_source(MAP_TILE_URL)])],
        "connect-src": [SELF, *CSP_CONNECT_ORIGINS],
        "frame-ancestors": [NONE],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
    },
}

# --- Grids ----------------------------------------------------------------------
# Debian 12 ships GDAL 3.6, which cannot block file or network access from
# spatial references inside a file. GDAL only reads boundary files an
# administrator imports from a trusted source (see docs/grids.md); the importer
# also refuses /vsi and URL paths and VRT files.
SILENCED_SYSTEM_CHECKS = ["gis.W001"]
# Boundaries are stored in WGS-84; coordinates declared as GCJ-02 are converted.
GRIDS_SRID = 4326

# --- Open311 (docs/open311.md) ----------------------------------------------------
# Shown by /open311/v2/discovery.{xml,json}.
OPEN311_CONTACT = env(
    "OPEN311_CONTACT", default="城市管理指挥中心 (urban management command centre)"
)
OPEN311_KEY_SERVICE = env(
    "OPEN311_KEY_SERVICE",
    default="API keys are issued by the command centre's administrators (admin → API clients).",
)

# --- Demo data (the demo app; organisation/demo_accounts.py) ----------------------
# seed_demo_city refuses to run without it (production turns it off): the demo
# accounts share a published password. `check --deploy` tests every active
# account for that password while there are at most this many of them, and the
# demo, staff and superuser accounts beyond (each test is a full password hash).
DEMO_DATA_ALLOWED = env.bool("DEMO_DATA_ALLOWED", default=True)
DEMO_PASSWORD_CHECK_ALL_UP_TO = env.int("DEMO_PASSWORD_CHECK_ALL_UP_TO", default=200)

# What the anonymous GET requests feed publishes (cases/open311/publication.py,
# docs/open311.md): cases of citizen-visible categories in these statuses
# (comma-separated; reported and rejected ones stay internal); cases of other
# sources than these are generalised: point rounded to this many decimals of
# a degree (3: about 111 m north-south), the category's name for their text.
_OPEN311_STATUSES = "registered,dispatched,returned,in_progress,suspended,handled,closed"
OPEN311_PUBLICATION = {
    "statuses": env.list("OPEN311_PUBLISHED_STATUSES", default=_OPEN311_STATUSES.split(",")),
    "exact_sources": env.list("OPEN311_EXACT_SOURCES", default=["citizen"]),
    "decimals": env.int("OPEN311_ROUNDED_DECIMALS", default=3),
}

# --- Cases -----------------------------------------------------------------------
# Seconds a process may keep configuration every report reads (categories,
# deadline rules, the working calendar; core.config_cache) before it
# reads it again: how late another process's edit may take effect here.
CONFIG_CACHE_SECONDS = env.float("CONFIG_CACHE_SECONDS", default=60.0)
# The command level that registers and dispatches a new case (4 community,
# 3 subdistrict, 2 district, 1 city); escalation moves a case one level up.
CASES_FIRST_COMMAND_LEVEL = env.int("CASES_FIRST_COMMAND_LEVEL", default=3)
# A citizen (or a dispatcher) may reopen a closed case for this many days;
# the citizen rates the outcome (回访) within the same days.
CASES_REOPEN_DAYS = env.int("CASES_REOPEN_DAYS", default=7)
# Send every new citizen tip and hotline report to its grid's workers to verify
# on site (核实) before registration. Off: the command centre sends the ones it doubts.
CASES_VERIFY_TIPS = env.bool("CASES_VERIFY_TIPS", default=False)
# The citizen's report form offers first the categories citizens reported most
# in the last 90 days, counted again after this many seconds (0: every time).
CASES_CITIZEN_SHORTLIST_SECONDS = env.int("CASES_CITIZEN_SHORTLIST_SECONDS", default=3600)
# Share of a stage's limit after which its light turns yellow.
CASES_YELLOW_SHARE = 0.8
# Stage limits used when no rule in the database applies: (amount, unit).
CASES_DEFAULT_SLA = {
    "register": (1, "working_hours"),
    "verify": (1, "working_hours"),
    "dispatch": (1, "working_hours"),
    "acknowledge": (2, "working_hours"),
    "handle": (3, "working_days"),
    "inspect": (1, "working_days"),
}
# Photo limits: bytes per file and pixels per image (decompression bombs).
CASES_PHOTO_MAX_BYTES = env.int("CASES_PHOTO_MAX_BYTES", default=15 * 1024 * 1024)
CASES_PHOTO_MAX_PIXELS = env.int("CASES_PHOTO_MAX_PIXELS", default=50_000_000)
CASES_PHOTOS_PER_ACTION = 9
# Cases the deadline sweep handles per transaction.
CASES_SWEEP_BATCH = env.int("CASES_SWEEP_BATCH", default=1000)

# --- Notifications (notifications/rules.py, docs/notifications.md) ----------------
# Inbox in the app; email through Django's email framework; SMS through
# NOTIFICATIONS_SMS_BACKEND. Both print to the console unless configured.
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="noreply@localhost")
NOTIFICATIONS_FROM_EMAIL = env("NOTIFICATIONS_FROM_EMAIL", default="")  # "": DEFAULT_FROM_EMAIL
NOTIFICATIONS_SMS_BACKEND = env(
    "NOTIFICATIONS_SMS_BACKEND", default="notifications.sms.ConsoleBackend"
)
NOTIFICATIONS_SMS_OPTIONS = env.json("NOTIFICATIONS_SMS_OPTIONS", default={})
# The language of emails, SMS and pushed items ("": LANGUAGE_CODE).
NOTIFICATIONS_LANGUAGE = env("NOTIFICATIONS_LANGUAGE", default="")
# Signs the messages ("": the site's title, in the message's language).
NOTIFICATIONS_SITE_NAME = env("NOTIFICATIONS_SITE_NAME", default="")
# The link a citizen follows their tip by ({token}: its tracking token).
NOTIFICATIONS_TRACKING_URL = env(
    "NOTIFICATIONS_TRACKING_URL", default="http://localhost:8000/track/{token}/"
)
# Channels per kind and audience over the table in notifications/rules.py,
# e.g. {"red": {"holders": ["inbox", "sms"]}}.
NOTIFICATIONS_CHANNELS = env.json("NOTIFICATIONS_CHANNELS", default={})
# Delivery: attempts per email or SMS, seconds between them, how long one is
# worth sending, how long the catch-up leaves to the task queued at commit.
NOTIFICATIONS_MAX_ATTEMPTS = env.int("NOTIFICATIONS_MAX_ATTEMPTS", default=5)
NOTIFICATIONS_RETRY_AFTER = env.int("NOTIFICATIONS_RETRY_AFTER", default=300)
NOTIFICATIONS_DELIVERY_WINDOW = env.int("NOTIFICATIONS_DELIVERY_WINDOW", default=24 * 3600)
NOTIFICATIONS_QUEUE_GRACE = 60
NOTIFICATIONS_DELIVERY_BATCH = 200
# A second "kind" enum in the API: name both (the photos' keeps its name).
SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"].update(
    {"NotificationKindEnum": "notifications.models.Kind", "KindEnum": "cases.models.AttachmentKind"}
)
# --- end of notifications ------------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
}
