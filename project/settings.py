"""One settings file. Every deploy difference is read from the environment.

The embedded default (no variables set) is a single machine: SQLite in ./data, a Celery broker on the
filesystem, offline demo candidates. Scale out with DATABASE_URL (PostgreSQL) and CELERY_BROKER_URL
(Redis or RabbitMQ) and as many `celery worker` processes as wanted.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def env_secret(name: str, default: str = "") -> str:
    """A secret from NAME, or from the file named by NAME_FILE (Docker/Kubernetes secrets)."""
    path = os.environ.get(f"{name}_FILE")
    if path:
        return Path(path).read_text().strip()
    return os.environ.get(name, default)


DATA_DIR = Path(env_str("DATA_DIR", str(BASE_DIR / "data")))
DEBUG = env_bool("DEBUG", False)


def _secret_key() -> str:
    """SECRET_KEY (or SECRET_KEY_FILE) when set. Otherwise, on the embedded default only (no
    DATABASE_URL: one machine, everything in DATA_DIR), a key generated once into
    DATA_DIR/secret_key, so `manage.py` in a fresh shell signs and reads what `bin/run` did. With
    DATABASE_URL set, web and worker processes may run on several machines and must share one key,
    so it has to be given; a key made up by each would break sessions, links and export pseudonyms.
    """
    key = env_secret("SECRET_KEY")
    if key:
        return key
    if env_str("DATABASE_URL"):
        raise ImproperlyConfigured(
            "SECRET_KEY must be set (or SECRET_KEY_FILE) when DATABASE_URL is set: every web and "
            "worker process of a deployment signs with the same key."
        )
    keyfile = DATA_DIR / "secret_key"
    if not keyfile.exists():
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        # Written beside and linked into place: two processes starting at once agree on one key
        # (os.link fails if the other was first), and no reader ever sees a half-written file.
        fd, tmp = tempfile.mkstemp(dir=DATA_DIR, prefix=".secret_key.")
        try:
            os.write(fd, secrets.token_urlsafe(50).encode())
            os.close(fd)
            os.link(tmp, keyfile)
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    return keyfile.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = [h for h in env_str("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in env_str("CSRF_TRUSTED_ORIGINS").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",  # login throttling (annotate/lockout.py)
    "django_htmx",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served from the project, not a CDN
    "annotate",
]

MIDDLEWARE = [
    "annotate.middleware.AsyncFileStreamsMiddleware",  # ASGI only: files stream, not read whole
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",  # SECURE_CSP below, on every response
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The page's language: the switcher's cookie, else the browser's Accept-Language (LANGUAGES);
    # Django's LocaleMiddleware, except that the API always speaks English.
    "annotate.middleware.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "annotate.middleware.InputRulesMiddleware",  # a NUL in any query or form field: 400
    # Last, as axes asks: turns a request its backend or signal marked locked out into the lockout
    # page (annotate/lockout.py).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "project.urls"
WSGI_APPLICATION = "project.wsgi.application"

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
    }
]

# --- database -------------------------------------------------------------------------------
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{DATA_DIR / 'annotate.sqlite3'}"),
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Server-side binding lets psycopg prepare a statement after its 5th run on a connection, so
    # PostgreSQL stops re-planning the same dozen statements on every vote: measured here, it
    # halves the database's CPU per vote (4.7 -> 2.2 ms). Off with DB_SERVER_SIDE_BINDING=0 (e.g.
    # behind PgBouncer in transaction mode, where prepared statements need max_prepared_statements).
    DATABASES["default"].setdefault("OPTIONS", {})["server_side_binding"] = env_bool(
        "DB_SERVER_SIDE_BINDING", True
    )
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers run beside one writer; IMMEDIATE takes the write lock at BEGIN, so two
    # raters claiming work serialise instead of failing with "database is locked" on upgrade.
    DATABASES["default"]["CONN_MAX_AGE"] = 0 if env_bool("SQLITE_NO_PERSIST") else 60
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;",
    }
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test_annotate.sqlite3")}
# Under ASGI (project/asgi.py sets SERVER_GATEWAY) Django asks for no persistent connections: a
# request's sync code runs in whichever thread is free, so a kept connection would be left in a
# thread no later request may use. Each request closes its connection; PostgreSQL's come from
# psycopg's pool (per process, DB_POOL_MAX_SIZE), so the close only hands it back.
# DB_POOL=1 asks for the same in another process: a live worker's threads (annotate/services/
# live.py hands each stream's connection back between its writes).
SERVER_GATEWAY = env_str("SERVER_GATEWAY", "wsgi")
if SERVER_GATEWAY == "asgi" or env_bool("DB_POOL"):
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        DATABASES["default"]["OPTIONS"]["pool"] = {
            "min_size": env_int("DB_POOL_MIN_SIZE", 2),
            "max_size": env_int("DB_POOL_MAX_SIZE", 8),
            "timeout": 10,
        }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "annotate.User"
# Django's default hashers (PBKDF2 first). The fast MD5 hasher is set by tests/settings.py and
# bench/settings.py only; nothing in the environment can select it here.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# --- login throttling (django-axes; the policy is in annotate/lockout.py) ---------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # refuses a locked-out username+address first
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "annotate.lockout.lockout_response"
AXES_CLIENT_IP_CALLABLE = "annotate.lockout.client_ip"
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "csrfmiddlewaretoken"]
# Proxies of ours in front of the web processes that append to X-Forwarded-For (0: none, the
# client's address is REMOTE_ADDR). Set it behind a proxy, or every client shares its address.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)

# How long after a vote the rater may undo it (the pair comes back with the vote filled in; the
# correction is a new vote pointing at the first). The correction itself may take a lease longer.
RATE_UNDO_SECONDS = env_int("RATE_UNDO_SECONDS", 60)

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "annotate:home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
# Every page a rater, admin or researcher sees, in English and Korean (locale/; the .mo files are
# compiled by bin/_bootstrap.sh, never committed). The API and the back office stay English.
LANGUAGES = [("en", "English"), ("ko", "한국어")]
LOCALE_PATHS = [BASE_DIR / "locale"]
LANGUAGE_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
LANGUAGE_COOKIE_SAMESITE = "Lax"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "staticfiles"
MEDIA_ROOT = DATA_DIR / "media"
EXPORT_ROOT = Path(env_str("EXPORT_ROOT", str(DATA_DIR / "exports")))

# --- HTTPS and browser security (SecurityMiddleware; `manage.py check --deploy` is clean with the
# production variables of README and .env.example) ------------------------------------------------
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT")
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS")
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD")
# Behind a proxy that terminates TLS: the name of the header it sets to "https", e.g.
# X-Forwarded-Proto. Only set it when the proxy always sets (or strips) that header itself.
_PROXY_SSL_HEADER = env_str("SECURE_PROXY_SSL_HEADER")
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_" + _PROXY_SSL_HEADER.upper().replace("-", "_"), "https") if _PROXY_SSL_HEADER else None
)
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 14 * 24 * 3600)
# No script reads the CSRF cookie: pages carry the token in the form and in <body hx-headers>.
CSRF_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# One policy for every response. Scripts only from our own origin: no inline script, no inline
# event handler, no eval (pages wire behaviour from static files through data- attributes; Swagger
# UI loads its set-up script from a URL, project/urls.py). Styles allow inline, for the few style=""
# bars and <style> blocks of our templates, Swagger UI's and the admin's; no foreign origin at all
# (a tracker image inside a rated response cannot load), no plugins, no <base>, no framing.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF, CSP.UNSAFE_INLINE],
    "img-src": [CSP.SELF, "data:"],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}

# --- Crowd platforms (annotate/views/participants.py) ----------------------------------------
# Where an MTurk HIT may post its finish (turkSubmitTo), and the origins that may frame the HIT page
# (the only framable pages). CROWD_ALLOW_LOOPBACK lets http://127.0.0.1 stand in for a platform:
# tests and a developer's machine only.
CROWD_MTURK_SUBMIT_ORIGINS = ["https://www.mturk.com", "https://workersandbox.mturk.com"]
CROWD_MTURK_FRAME_ANCESTORS = [
    "https://www.mturk.com",
    "https://worker.mturk.com",
    "https://workersandbox.mturk.com",
]
CROWD_ALLOW_LOOPBACK = env_bool("CROWD_ALLOW_LOOPBACK", False)
# Heartbeats and votes further apart than this are idle time, not counted as active.
CROWD_IDLE_SECONDS = env_int("CROWD_IDLE_SECONDS", 60)
# A bulk invitation's one-time link works for this many days (annotate/services/invitations.py).
INVITE_LINK_DAYS = env_int("INVITE_LINK_DAYS", 7)
# With a token, workers poll Prolific for returned / timed-out / rejected submissions.
PROLIFIC_API_TOKEN = env_secret("PROLIFIC_API_TOKEN")
PROLIFIC_API_URL = env_str("PROLIFIC_API_URL", "https://api.prolific.com")
PROLIFIC_POLL_SECONDS = env_int("PROLIFIC_POLL_SECONDS", 120)
# The "active" ordering rescores its campaigns' open pairs about this often, in a worker
# (annotate/services/priorities.py).
PRIORITIES_REFRESH_SECONDS = env_int("PRIORITIES_REFRESH_SECONDS", 30)
# Webhooks (annotate/services/webhooks.py): payloads are signed with WEBHOOK_SECRET (or the file
# named by WEBHOOK_SECRET_FILE), shared with the receivers; without it no webhook can be added.
WEBHOOK_SECRET = env_secret("WEBHOOK_SECRET")
WEBHOOKS_SWEEP_SECONDS = env_int("WEBHOOKS_SWEEP_SECONDS", 30)

# --- REST API -------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "annotate.api.authentication.ThrottledTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # annotate/api/parsers.py: bodies under annotate/validation.py's rules, within a size limit.
    "DEFAULT_PARSER_CLASSES": [
        "annotate.api.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    # annotate/api/schema.py: every operation documents its error responses.
    "DEFAULT_SCHEMA_CLASS": "annotate.api.schema.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "annotate API",
    "DESCRIPTION": "Preference-data campaigns: prompts, generation, votes and exports.",
    "VERSION": "0.1.0",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # The schema documents JSON bodies (imports also multipart); form bodies are read as a courtesy.
    "PARSER_WHITELIST": ["annotate.api.parsers.JSONParser"],
    # Fields named alike in different areas get distinct enums (annotate/api/*).
    "ENUM_NAME_OVERRIDES": {
        "PromptImportStatusEnum": "annotate.models.PromptImport.Status",
        "JudgeProviderEnum": "annotate.models.JudgeConfig.Provider",
        "JudgeRunModeEnum": "annotate.models.JudgeConfig.Mode",
        # A pair's label in its own terms (a = candidate_a): a gold answer, an adjudication.
        "PairLabelEnum": ["a", "b", "tie", "both_bad"],
        # One provider each, in the shapes of a generator's or the judge's target (api/targets.py).
        "AnthropicProviderEnum": "annotate.api.targets.ANTHROPIC",
        "OpenAICompatibleProviderEnum": "annotate.api.targets.OPENAI_COMPATIBLE",
        "DemoProviderEnum": "annotate.api.targets.DEMO",
        "GeneratorProviderEnum": [
            ("anthropic", "anthropic"),
            ("openai_compatible", "openai_compatible"),
            ("demo", "demo"),
        ],
    },
}

# --- Celery ---------------------------------------------------------------------------------
BROKER_DIR = DATA_DIR / "broker"
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://localhost/")
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
    if CELERY_BROKER_URL.startswith("filesystem")
    else {"visibility_timeout": 3600}
)
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = env_int("CELERY_WORKER_PREFETCH_MULTIPLIER", 1)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 300)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 360)
# Background work (annotate/work): every process that claims work beats every
# WORK_HEARTBEAT_SECONDS; one that has not beaten for WORK_DEAD_AFTER_SECONDS is dead, and the sweep
# (which some live worker runs every WORK_SWEEP_SECONDS) sends its work again. A live worker's claim
# is never taken, however slow its call, so the dead-after window only needs to outlast a few
# missed beats. WORK_STALE_SECONDS (0: each kind's task time limit + 30 s) frees a claim whatever its
# holder (a hung one, or one without a heartbeat) and is how long lost messages are waited for.
WORK_HEARTBEAT_SECONDS = float(env_str("WORK_HEARTBEAT_SECONDS", "3"))
WORK_DEAD_AFTER_SECONDS = float(env_str("WORK_DEAD_AFTER_SECONDS", "12"))
WORK_SWEEP_SECONDS = float(env_str("WORK_SWEEP_SECONDS", "6"))
WORK_STALE_SECONDS = float(env_str("WORK_STALE_SECONDS", "0"))
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# The researcher dashboard's figures (annotate/services/campaign_stats.py): a vote asks for a
# recompute this many seconds later (votes meanwhile join the same run); a campaign with no figures
# yet and at most ANALYTICS_INLINE_MAX_VOTES votes is computed in the page request instead.
ANALYTICS_REFRESH_SECONDS = env_int("ANALYTICS_REFRESH_SECONDS", 60)
ANALYTICS_INLINE_MAX_VOTES = env_int("ANALYTICS_INLINE_MAX_VOTES", 5000)
# PostgreSQL work_mem of a run's reads (SET LOCAL): its GROUP BYs over a million votes fit in it.
ANALYTICS_WORK_MEM_MB = env_int("ANALYTICS_WORK_MEM_MB", 256)
# Celery's Django fixup closes every database connection before and after each task unless this is
# set, so each generation task opened a new PostgreSQL connection (measured in bench/generation.py:
# the claim took 29 ms instead of 9 ms). With it set, project/celery.py closes connections around
# tasks as Django's request cycle does (CONN_MAX_AGE, health checks), and the fixup still recycles
# a thread's connection after this many tasks.
CELERY_DB_REUSE_MAX = env_int("CELERY_DB_REUSE_MAX", 1000)
# Live replies stream for as long as a model writes: I/O-bound work, kept off the queue that
# generation and exports share. A scaled-out deployment runs a worker for it alone
# (`celery -A project worker -Q live --pool threads --concurrency 64`); bin/run's worker takes both.
CELERY_TASK_ROUTES = {"annotate.tasks.live_reply_stream": {"queue": "live"}}

# --- the live relay (annotate/live/relay.py) ------------------------------------------------
# Workers publish each piece of a live reply; web processes stream it to the browser. Redis
# Streams when scaled out (by default the broker's Redis), else files in DATA_DIR/live (one
# machine, no server). LIVE_RELAY_URL: redis://host:port/db or file:///folder.
LIVE_RELAY_URL = env_str("LIVE_RELAY_URL") or (
    CELERY_BROKER_URL
    if CELERY_BROKER_URL.startswith(("redis://", "rediss://"))
    else f"file://{DATA_DIR}"
)
LIVE_RELAY_PREFIX = env_str("LIVE_RELAY_PREFIX", "live")  # Redis keys live:…, files DATA_DIR/live/…
LIVE_RELAY_RETENTION_SECONDS = env_int("LIVE_RELAY_RETENTION_SECONDS", 24 * 3600)
LIVE_RELAY_MAXLEN = env_int("LIVE_RELAY_MAXLEN", 100_000)  # events per channel (Redis)
LIVE_RELAY_MAX_BYTES = env_int("LIVE_RELAY_MAX_BYTES", 32 * 1024 * 1024)  # per channel (files)

# --- export files (annotate/export_files.py) --------------------------------------------------
# A worker builds an export in EXPORT_WORK_DIR on its own disk, then publishes the zip to the
# "exports" storage, from which the web process streams downloads. Without EXPORT_BUCKET that
# storage is the folder EXPORT_ROOT, which every web and worker machine must then share (one
# mount); with it, an S3-compatible bucket (django-storages' S3 backend, boto3) that all reach.
EXPORT_WORK_DIR = Path(env_str("EXPORT_WORK_DIR", str(DATA_DIR / "export-work")))
# On PostgreSQL, a JSON Lines export of at least EXPORT_PARALLEL_MIN_PAIRS pairs is built by
# EXPORT_PROCESSES processes, each over a range of the prompts, on one snapshot
# (annotate/services/export_parts.py). 1 builds every export in the worker's own process.
EXPORT_PROCESSES = max(1, env_int("EXPORT_PROCESSES", min(2, os.cpu_count() or 1)))
EXPORT_PARALLEL_MIN_PAIRS = env_int("EXPORT_PARALLEL_MIN_PAIRS", 100_000)
EXPORT_BUCKET = env_str("EXPORT_BUCKET")
# Downloads redirect to a signed URL of the bucket (which the browser must reach) instead of
# streaming through the web process.
EXPORT_DOWNLOAD_REDIRECT = bool(EXPORT_BUCKET) and env_bool("EXPORT_BUCKET_SIGNED_URLS")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    "exports": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        # A re-run of the same export replaces its zip rather than saving a second name.
        "OPTIONS": {"location": EXPORT_ROOT, "allow_overwrite": True},
    },
}
if EXPORT_BUCKET:
    _addressing = env_str("EXPORT_BUCKET_ADDRESSING_STYLE", "auto")
    if _addressing not in {"auto", "path", "virtual"}:
        raise ImproperlyConfigured("EXPORT_BUCKET_ADDRESSING_STYLE must be auto, path or virtual.")
    STORAGES["exports"] = {
        "BACKEND": "annotate.bucket_storage.StreamingS3Storage",
        "OPTIONS": {
            "bucket_name": EXPORT_BUCKET,
            "location": env_str("EXPORT_BUCKET_PREFIX", "exports"),
            "endpoint_url": env_str("EXPORT_BUCKET_ENDPOINT_URL") or None,  # unset: AWS S3
            "region_name": env_str("EXPORT_BUCKET_REGION") or None,
            # Keys unset: boto3's own chain (AWS_* variables, ~/.aws, an instance or pod role).
            "access_key": env_secret("EXPORT_BUCKET_ACCESS_KEY_ID") or None,
            "secret_key": env_secret("EXPORT_BUCKET_SECRET_ACCESS_KEY") or None,
            "addressing_style": _addressing,
            "signature_version": "s3v4",
            "querystring_expire": env_int("EXPORT_BUCKET_SIGNED_URL_SECONDS", 300),
            "default_acl": None,  # objects stay private; only signed URLs reach them
            "file_overwrite": True,
        },
    }

# --- LLM providers ---------------------------------------------------------------------------
# Keys are read from the environment at call time; they are never stored in the database. Which
# variable may be sent to which base URL is the operator's to say: PROVIDER_ENDPOINTS names the
# endpoints admins may pick (JSON, annotate/endpoints.py); ANTHROPIC_API_KEY always goes with
# ANTHROPIC_BASE_URL (default: Anthropic's API) as the endpoint "anthropic".
ANTHROPIC_BASE_URL = env_str("ANTHROPIC_BASE_URL") or None
PROVIDER_ENDPOINTS = env_secret("PROVIDER_ENDPOINTS")
ANTHROPIC_DEFAULT_MODEL = env_str("ANTHROPIC_DEFAULT_MODEL", "claude-sonnet-4-6")
PROVIDER_TIMEOUT_SECONDS = float(env_str("PROVIDER_TIMEOUT_SECONDS", "120"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "httpx": {"level": "WARNING"},
        "anthropic": {"level": "WARNING"},
        "axes": {"level": "WARNING"},  # failures and lockouts, not a banner on every command
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# The benchmark's hooks (the /bench/noop/ floor and the rating page's keypress timings) exist only
# when this is on: bench/settings.py turns it on, nothing else does.
BENCH_HOOKS = False
