"""Settings, all from the environment; README.md lists every variable.

With no REDIS_URL the server runs embedded: SQLite, the in-memory channel layer and an engine
host inside the web process. With REDIS_URL it uses Redis for the channel layer and for
coordination, and engines run in their own processes (`python manage.py runengine`).
"""

from datetime import timedelta
from pathlib import Path

import dj_database_url

from gameserver.env import (
    admin_path,
    check_production,
    env_bool,
    env_delays,
    env_list,
    env_number,
    env_str,
)

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = env_str("DJANGO_SECRET_KEY")
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS")
GAMESERVER_ALLOWED_ORIGINS = env_list("GAMESERVER_ALLOWED_ORIGINS")
check_production(
    debug=DEBUG,
    secret_key=SECRET_KEY,
    allowed_hosts=ALLOWED_HOSTS,
    allowed_origins=GAMESERVER_ALLOWED_ORIGINS,
)
if DEBUG:
    SECRET_KEY = SECRET_KEY or "insecure-development-key-never-use-in-production"
    ALLOWED_HOSTS = ALLOWED_HOSTS or ["localhost", "127.0.0.1", "[::1]", "testserver"]
    # Any port on the loopback host: tests and `make run` pick their own ports.
    GAMESERVER_ALLOWED_ORIGINS = GAMESERVER_ALLOWED_ORIGINS or [
        "http://localhost:*",
        "http://127.0.0.1:*",
    ]

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "axes",
    "games",
]

MIDDLEWARE = [
    "games.middleware.count_responses",  # outermost: counts the status the client gets
    "games.middleware.security_headers",  # next: every response carries CSP
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes asks: turns a lock into a 429
]

ROOT_URLCONF = "gameserver.urls"
ASGI_APPLICATION = "gameserver.asgi.application"

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

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(env_number("DATABASE_CONN_MAX_AGE", 0, minimum=0, maximum=3600)),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE makes concurrent seat assignments queue up instead of failing as "locked".
    DATABASES["default"]["OPTIONS"] = {"transaction_mode": "IMMEDIATE", "timeout": 20}
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A database that does not answer fails a call in seconds (it is retried), never hangs it.
    DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = int(
        env_number("DATABASE_CONNECT_TIMEOUT", 5, minimum=1, maximum=120)
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = True

REDIS_URL = env_str("REDIS_URL")
# Lets several deployments (or test runs) share one Redis without seeing each other.
REDIS_PREFIX = env_str("GAMESERVER_REDIS_PREFIX", "gs")
if REDIS_URL:
    from django.core.exceptions import ImproperlyConfigured

    from games.redis_client import channel_layer_hosts

    try:  # a redis+sentinel:// URL becomes the sentinel dict channels-redis understands
        _layer_hosts = channel_layer_hosts(REDIS_URL)
    except ValueError as error:
        raise ImproperlyConfigured(str(error)) from None
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": _layer_hosts, "prefix": REDIS_PREFIX + ":layer:"},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# Proxy and cookie security. Production defaults are the strict ones.
# X-Forwarded-Proto is believed only when told every request comes through a proxy that sets
# it (a client could send it too). uvicorn's --proxy-headers already takes the scheme from
# the proxies in FORWARDED_ALLOW_IPS alone, so the Procfile's web process does not need this.
if env_bool("DJANGO_BEHIND_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = int(
    env_number("DJANGO_HSTS_SECONDS", 0 if DEBUG else 31536000, minimum=0, maximum=63072000)
)
# Both bind every subdomain for a long time (preload lists take months to leave): ask for them.
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", False)
SILENCED_SYSTEM_CHECKS = ["security.W005", "security.W021"]  # the two just above, off on purpose
# Probes from a load balancer or process manager come over plain HTTP on the inside.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", GAMESERVER_ALLOWED_ORIGINS)
CSRF_TRUSTED_ORIGINS = [o for o in CSRF_TRUSTED_ORIGINS if "*" not in o.split("://")[-1]]
SESSION_COOKIE_AGE = 60 * 60 * 24 * 30  # guests keep their name and seats for a month

# The admin: at a path of the operator's choosing, its sessions short (games/admin.py sets
# them on a staff login), and a lock-out after repeated failed logins (django-axes, in the
# database: every web process sees the same count).
ADMIN_PATH = admin_path("DJANGO_ADMIN_PATH")
STAFF_SESSION_SECONDS = int(
    env_number("DJANGO_STAFF_SESSION_SECONDS", 4 * 3600, minimum=1, maximum=SESSION_COOKIE_AGE)
)
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = int(env_number("DJANGO_ADMIN_FAILURE_LIMIT", 5, minimum=1, maximum=1000))
AXES_COOLOFF_TIME = timedelta(
    seconds=env_number("DJANGO_ADMIN_LOCKOUT_SECONDS", 900, minimum=1, maximum=86400 * 30)
)
# A name and an address together: a guesser is stopped, yet cannot lock the real operator
# out from elsewhere. The address is the one the ASGI server reports (uvicorn takes it from
# X-Forwarded-For only for FORWARDED_ALLOW_IPS), never a header read here.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_IPWARE_META_PRECEDENCE_ORDER = ("REMOTE_ADDR",)
AXES_RESET_ON_SUCCESS = True
# Tries while locked are refused without being stored: the lock ends on time, and a locked
# client hammering the form does not grow its row (each failure keeps up to 1 KiB of form).
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# Guests log in too (one login per guest made): a log of successful logins would grow
# without bound. Failures are still recorded, and forgotten after the cool-off.
AXES_DISABLE_ACCESS_LOG = True

# The game server's own numbers, in one place (docs/PROTOCOL.md and README.md describe them).
GAMESERVER = {
    "TICKET_TTL": env_number("GAMESERVER_TICKET_TTL", 30, minimum=1, maximum=600),
    "AUTH_TIMEOUT": env_number("GAMESERVER_AUTH_TIMEOUT", 5, minimum=0.5, maximum=60),
    "BOT_FILL_SECONDS": env_number("GAMESERVER_BOT_FILL_SECONDS", 5, minimum=0, maximum=600),
    # An event-driven game's bot waits this long before its move, so a person sees it come.
    "BOT_THINK_SECONDS": env_number("GAMESERVER_BOT_THINK_SECONDS", 0.6, minimum=0, maximum=10),
    "PRIVATE_BOT_FILL_SECONDS": env_number(
        "GAMESERVER_PRIVATE_BOT_FILL_SECONDS", 60, minimum=0, maximum=3600
    ),
    # A waiting match nobody connected to is abandoned after this (one everyone left: after
    # the reconnect grace, if shorter).
    "WAITING_TIMEOUT": env_number("GAMESERVER_WAITING_TIMEOUT", 60, minimum=5, maximum=86400),
    # Matches an engine holds at most; more wait in the queue for another engine.
    "MAX_MATCHES": int(env_number("GAMESERVER_MAX_MATCHES", 1000, minimum=1, maximum=100000)),
    "LEASE_TTL": env_number("GAMESERVER_LEASE_TTL", 5, minimum=1, maximum=60),
    "CHECKPOINT_EVERY": int(
        env_number("GAMESERVER_CHECKPOINT_EVERY", 20, minimum=1, maximum=10000)
    ),
    "MAX_MESSAGE_BYTES": int(
        env_number("GAMESERVER_MAX_MESSAGE_BYTES", 4096, minimum=256, maximum=1048576)
    ),
    # Per socket: messages a second sustained, and the burst allowed on top.
    "RATE_LIMIT": env_number("GAMESERVER_RATE_LIMIT", 20, minimum=1, maximum=10000),
    "RATE_BURST": env_number("GAMESERVER_RATE_BURST", 40, minimum=1, maximum=10000),
    # Messages refused within 5 s before a flooding socket is closed with 4429.
    "RATE_ABUSE": int(env_number("GAMESERVER_RATE_ABUSE", 100, minimum=1, maximum=100000)),
    "MAX_BAD_MESSAGES": int(
        env_number("GAMESERVER_MAX_BAD_MESSAGES", 10, minimum=1, maximum=1000000)
    ),
    "MAX_SOCKETS_PER_IP": int(
        env_number("GAMESERVER_MAX_SOCKETS_PER_IP", 20, minimum=1, maximum=100000)
    ),
    "OWNER_WAIT": env_number("GAMESERVER_OWNER_WAIT", 10, minimum=0.5, maximum=120),
    # A dropped player's seat is kept this long for a reconnect; then the player leaves.
    "RECONNECT_GRACE": env_number("GAMESERVER_RECONNECT_GRACE", 20, minimum=0, maximum=3600),
    # Flow control by ack: a socket whose ack is more than FLOW_LAG seconds of ticks behind
    # gets no frames until it catches up (then a keyframe); behind for SLOW_CLOSE: 4408.
    "FLOW_LAG": env_number("GAMESERVER_FLOW_LAG", 2, minimum=0.2, maximum=60),
    "SLOW_CLOSE": env_number("GAMESERVER_SLOW_CLOSE", 10, minimum=0.5, maximum=600),
    # Nothing at all from a socket for this long (clients ack 4x a second): it is dead, 4408.
    "SILENT_TIMEOUT": env_number("GAMESERVER_SILENT_TIMEOUT", 10, minimum=0.5, maximum=600),
    "REDIS_PREFIX": REDIS_PREFIX + ":",
    # Socket timeout of the store's Redis calls: a call while Redis is away fails this fast.
    "REDIS_TIMEOUT": env_number("GAMESERVER_REDIS_TIMEOUT", 0.5, minimum=0.05, maximum=30),
    # Hubs tell engines this often which matches they watch; an engine that has not heard
    # from a hub for HUB_TIMEOUT treats its sockets as dropped (its web process died).
    "HUB_HEARTBEAT": env_number("GAMESERVER_HUB_HEARTBEAT", 1, minimum=0.1, maximum=60),
    "HUB_TIMEOUT": env_number("GAMESERVER_HUB_TIMEOUT", 3, minimum=0.3, maximum=600),
    # The reconciler compares the database with Redis this often (one engine at a time) ...
    "RECONCILE_SECONDS": env_number("GAMESERVER_RECONCILE_SECONDS", 2, minimum=0.2, maximum=600),
    # ... and abandons a running match that had no owner and no checkpoint for this long.
    "ORPHAN_SECONDS": env_number("GAMESERVER_ORPHAN_SECONDS", 10, minimum=1, maximum=3600),
    "REPORT_SECONDS": env_number("GAMESERVER_REPORT_SECONDS", 30, minimum=1, maximum=3600),
    "EMBEDDED_ENGINE": env_bool("GAMESERVER_EMBEDDED_ENGINE", not REDIS_URL),
    # Each engine writes what it runs to the store this often (the admin's Engines page,
    # /readyz); an engine not heard from for ENGINE_SILENT is shown silent, and forgotten
    # ENGINE_FORGET after its last heartbeat.
    "ENGINE_HEARTBEAT": env_number("GAMESERVER_ENGINE_HEARTBEAT", 2, minimum=0.1, maximum=60),
    "ENGINE_SILENT": env_number("GAMESERVER_ENGINE_SILENT", 6, minimum=0.3, maximum=600),
    "ENGINE_FORGET": env_number("GAMESERVER_ENGINE_FORGET", 3600, minimum=1, maximum=86400),
    # Spectators (docs/PROTOCOL.md, "Watching"): at most this many watch one match (sockets
    # and streams together, across web processes), and this many from one address per web
    # process; a spectator's seconds of delay behind the players, per game ("game=seconds,..."
    # over the game's own `spectator_delay`); SSE keep-alive comments this often; a private
    # match's code lets a session's EventSource watch it (and reconnect) for WATCH_GRANT.
    "MAX_SPECTATORS": int(env_number("GAMESERVER_MAX_SPECTATORS", 500, minimum=0, maximum=1000000)),
    "MAX_SPECTATORS_PER_IP": int(
        env_number("GAMESERVER_MAX_SPECTATORS_PER_IP", 8, minimum=1, maximum=100000)
    ),
    "SPECTATOR_DELAYS": env_delays("GAMESERVER_SPECTATOR_DELAYS"),
    "SSE_KEEPALIVE": env_number("GAMESERVER_SSE_KEEPALIVE", 15, minimum=0.2, maximum=300),
    "WATCH_GRANT": env_number("GAMESERVER_WATCH_GRANT", 3600, minimum=10, maximum=86400),
    # Chat (docs/PROTOCOL.md, "Chat"): each socket may say CHAT_BURST lines at once and
    # CHAT_RATE a second sustained, apart from its inputs, and one player CHAT_PER_USER in 10 s
    # over all their sockets; a new lobby socket is shown the last
    # CHAT_HISTORY lobby lines; spectators may chat in a match unless it was made without.
    "CHAT_RATE": env_number("GAMESERVER_CHAT_RATE", 0.5, minimum=0.01, maximum=100),
    "CHAT_BURST": env_number("GAMESERVER_CHAT_BURST", 5, minimum=1, maximum=100),
    "CHAT_PER_USER": int(env_number("GAMESERVER_CHAT_PER_USER", 10, minimum=1, maximum=1000)),
    "CHAT_HISTORY": int(env_number("GAMESERVER_CHAT_HISTORY", 50, minimum=0, maximum=500)),
    "SPECTATOR_CHAT": env_bool("GAMESERVER_SPECTATOR_CHAT", True),
    # The live lobby: each web process reads the lobby's lists again on every change it is
    # told of, and at least this often (a change told while Redis was away is not lost).
    "LOBBY_REFRESH": env_number("GAMESERVER_LOBBY_REFRESH", 5, minimum=0.2, maximum=300),
    # /metrics of a web process: open in DJANGO_DEBUG mode; in production only with this
    # bearer token, or from these client addresses (neither set: /metrics answers 403).
    "METRICS_TOKEN": env_str("GAMESERVER_METRICS_TOKEN", ""),
    "METRICS_ALLOW_IPS": env_list("GAMESERVER_METRICS_ALLOW_IPS", []),
    # An engine serves /metrics and /healthz on this port (0: none; `runengine --metrics-port`).
    "ENGINE_METRICS_PORT": int(
        env_number("GAMESERVER_ENGINE_METRICS_PORT", 0, minimum=0, maximum=65535)
    ),
}


def _rates(name: str, default: str) -> str:
    """A rate limit in the notation of the `limits` library: "10/minute", "3/10 seconds",
    "10/minute;100/hour" (all of them hold)."""
    import limits

    value = env_str(name, default)
    try:
        limits.parse_many(value)
    except ValueError:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(
            f"{name}={value!r} is not a rate limit: write N/period, e.g. 10/minute, "
            "3/10 seconds, or several joined by ';'"
        ) from None
    return value


# The HTTP API's rate limits and quotas (games/ratelimit.py; docs/PROTOCOL.md, "Limits of the
# HTTP API"). GAMESERVER_HTTP_LIMITS=0 turns off the rate limits, the join-code lock-out and
# the open-match quotas: only for a load test run from one machine against your own servers.
GAMESERVER_HTTP = {
    "LIMITS": env_bool("GAMESERVER_HTTP_LIMITS", True),
    "RATES": {
        name: _rates(f"GAMESERVER_LIMIT_{name}", default)
        for name, default in {
            "GUEST_PER_ADDRESS": "20/minute;200/hour",
            "GUEST_PER_USER": "10/minute",
            "CREATE_PER_ADDRESS": "20/minute",
            "CREATE_PER_USER": "5/minute",
            "QUICKPLAY_PER_ADDRESS": "60/minute",
            "QUICKPLAY_PER_USER": "20/minute",
            "JOIN_PER_ADDRESS": "60/minute",
            "JOIN_PER_USER": "20/minute",
            "JOIN_CODE_PER_ADDRESS": "30/minute",
            "JOIN_CODE_PER_USER": "10/minute",
            "TICKET_PER_ADDRESS": "120/minute",
            "TICKET_PER_USER": "60/minute",
            "TICKET_PER_SEAT": "1/second",
            "WATCH_PER_ADDRESS": "60/minute",
            "WATCH_PER_USER": "30/minute",
            "STREAM_PER_ADDRESS": "120/minute",
        }.items()
    },
    "MAX_OPEN_MATCHES_PER_USER": int(
        env_number("GAMESERVER_MAX_OPEN_MATCHES_PER_USER", 2, minimum=1, maximum=10000)
    ),
    "MAX_OPEN_MATCHES_PER_ADDRESS": int(
        env_number("GAMESERVER_MAX_OPEN_MATCHES_PER_ADDRESS", 4, minimum=1, maximum=100000)
    ),
    # More unclaimed new matches than this in the queue: creating one answers 503 `busy`.
    "MAX_QUEUED": int(env_number("GAMESERVER_MAX_QUEUED", 200, minimum=1, maximum=1000000)),
    # Wrong join codes before each further one locks the caller out (2 s, doubling).
    "CODE_FAILURES": int(env_number("GAMESERVER_CODE_FAILURES", 5, minimum=1, maximum=1000)),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    # Libraries that log every retry while Redis is down are held to a line per 30 s.
    "filters": {"repeats": {"()": "games.supervise.ThrottleRepeats"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["repeats"]}
    },
    "root": {"handlers": ["console"], "level": env_str("GAMESERVER_LOG_LEVEL", "INFO")},
    # axes logs four lines per login, and every new guest is a login.
    "loggers": {"django.channels.server": {"level": "WARNING"}, "axes": {"level": "WARNING"}},
}

CSRF_FAILURE_VIEW = "games.views.csrf_failure"
