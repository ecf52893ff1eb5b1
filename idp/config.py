"""Settings, read once from the environment."""

from __future__ import annotations

import ipaddress
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parseaddr
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qs, unquote, urlsplit

from idp.errors import ConfigurationError
from idp.models import About


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 1) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a whole number, not {raw!r}") from None
    if value < minimum:
        raise ConfigurationError(f"{name} must be at least {minimum}")
    return value


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    """A positive, finite number of seconds."""
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a number of seconds, not {raw!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise ConfigurationError(f"{name} must be a positive number of seconds, not {raw!r}")
    return value


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ConfigurationError(f"{name} must be true or false, not {raw!r}")


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    """One of `choices`; the first when unset."""
    raw = env.get(name)
    if raw in (None, ""):
        return choices[0]
    if raw.lower() not in choices:
        raise ConfigurationError(f"{name} must be one of {', '.join(choices)}, not {raw!r}")
    return raw.lower()


def _metrics_token(env: Mapping[str, str]) -> str | None:
    """A bearer token that opens /metrics to callers other than loopback; long enough not to be guessed."""
    raw = env.get("IDP_METRICS_TOKEN") or None
    if raw is not None and (len(raw) < 32 or not raw.isascii() or not raw.isprintable() or " " in raw):
        raise ConfigurationError("IDP_METRICS_TOKEN must be at least 32 printable ASCII characters without spaces")
    return raw


def is_loopback_host(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


RedisMode = Literal["single", "sentinel", "cluster"]

_REDIS_FORMS = (
    "redis://[[user]:password@]host:port[/db], rediss://... (TLS), unix://path[?db=n], "
    "redis+sentinel://[[user]:password@]host:port[,host:port...]/master-set[/db][?sentinel_password=...], "
    "or redis+cluster://[[user]:password@]host:port[,host:port...]"
)


@dataclass(frozen=True)
class RedisAddress:
    """Where Redis is, read from REDIS_URL: one server, the Sentinels of a master set, or a cluster's nodes."""

    mode: RedisMode
    url: str  # the URL as given (for one server, handed to the client library as it is)
    nodes: tuple[tuple[str, int], ...] = ()  # Sentinels, or a cluster's startup nodes
    master_set: str = ""
    db: int = 0
    username: str | None = None
    password: str | None = None
    sentinel_password: str | None = None

    @property
    def has_failover(self) -> bool:
        """Sentinel and Cluster promote a replica when a master fails; a single server has no one to promote."""
        return self.mode != "single"


def _redis_nodes(netloc: str, url_name: str) -> tuple[tuple[str, int], ...]:
    nodes = []
    for part in netloc.rpartition("@")[2].split(","):
        host, colon, port = part.strip().rpartition(":")
        if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigurationError(f"{url_name} must name each node as host:port, not {part!r}")
        nodes.append((host.strip("[]"), int(port)))
    return tuple(nodes)


def parse_redis_url(url: str, name: str = "REDIS_URL") -> RedisAddress:
    """Read a Redis URL in one of the forms the README documents; ConfigurationError for any other."""
    scheme = url.partition("://")[0].lower()
    if scheme in ("redis", "rediss", "unix"):
        return RedisAddress(mode="single", url=url)
    if scheme not in ("redis+sentinel", "redis+cluster"):
        raise ConfigurationError(f"{name} must be one of {_REDIS_FORMS}")
    # urlsplit cannot read a netloc of several host:port pairs, so the parts are taken apart by hand.
    rest = url.partition("://")[2]
    netloc, _, tail = rest.partition("/")
    path, _, query = tail.partition("?")
    userinfo, at, _ = netloc.rpartition("@")
    username, colon, password = userinfo.partition(":")
    # As in redis:// URLs: "user:password@", ":password@" (no user: the default one), "user@".
    user = unquote(username) if at and username else None
    secret = unquote(password) if colon else None
    nodes = _redis_nodes(netloc, name)
    options = parse_qs(query, keep_blank_values=True)
    segments = [segment for segment in path.split("/") if segment]
    if scheme == "redis+cluster":
        if segments not in ([], ["0"]) or options:
            raise ConfigurationError(f"{name}: a cluster has only database 0 and takes no options")
        return RedisAddress(mode="cluster", url=url, nodes=nodes, username=user, password=secret)
    if not segments or len(segments) > 2:
        raise ConfigurationError(f"{name} must name the master set: redis+sentinel://host:port/master-set[/db]")
    db = 0
    if len(segments) == 2:
        if not segments[1].isdigit():
            raise ConfigurationError(f"{name}: the database after the master set must be a number")
        db = int(segments[1])
    unknown = set(options) - {"sentinel_password"}
    if unknown:
        raise ConfigurationError(f"{name}: unknown option {sorted(unknown)[0]!r} (only sentinel_password)")
    sentinel_password = options.get("sentinel_password", [None])[-1] or None
    return RedisAddress(
        mode="sentinel",
        url=url,
        nodes=nodes,
        master_set=unquote(segments[0]),
        db=db,
        username=user,
        password=secret,
        sentinel_password=sentinel_password,
    )


@dataclass(frozen=True)
class MetadataSettings:
    """What the IdP's metadata says of it beyond its endpoints and keys."""

    about: About  # what each document says of the IdP
    signed: bool

    @classmethod
    def from_env(cls, env: Mapping[str, str], base_url: str, *, issuer_name: str) -> MetadataSettings:
        host = urlsplit(base_url).hostname or ""
        organization = env.get("IDP_ORGANIZATION_NAME") or issuer_name
        valid_for = _int(env, "IDP_METADATA_VALID_FOR", 7 * 24 * 3600)
        cache_duration = _int(env, "IDP_METADATA_CACHE_DURATION", 6 * 3600)
        if cache_duration > valid_for:
            raise ConfigurationError("IDP_METADATA_CACHE_DURATION must not exceed IDP_METADATA_VALID_FOR")
        # The mail sender may be written `Name <address>`: the contact is its address.
        contact = env.get("IDP_CONTACT_EMAIL") or parseaddr(env.get("IDP_MAIL_FROM") or "")[1] or f"no-reply@{host}"
        if "@" not in contact or any(char.isspace() for char in contact):
            raise ConfigurationError(f"IDP_CONTACT_EMAIL must be an email address, not {contact!r}")
        logo_url = env.get("IDP_LOGO_URL") or None
        for name, url in (("IDP_LOGO_URL", logo_url), ("IDP_ORGANIZATION_URL", env.get("IDP_ORGANIZATION_URL"))):
            if url and urlsplit(url).scheme not in ("http", "https"):
                raise ConfigurationError(f"{name} must be an absolute http(s) URL, not {url!r}")
        scopes = tuple(scope.strip() for scope in (env.get("IDP_SCOPES") or host).split(",") if scope.strip())
        about = About(
            valid_for=valid_for,
            cache_duration=cache_duration,
            organization_name=organization,
            organization_display_name=env.get("IDP_ORGANIZATION_DISPLAY_NAME") or organization,
            organization_url=env.get("IDP_ORGANIZATION_URL") or f"{base_url}/",
            contact_email=contact,
            contact_name=env.get("IDP_CONTACT_NAME") or None,
            display_name=env.get("IDP_DISPLAY_NAME") or issuer_name,
            logo_url=logo_url,
            logo_width=_int(env, "IDP_LOGO_WIDTH", 80),
            logo_height=_int(env, "IDP_LOGO_HEIGHT", 60),
            language=env.get("IDP_METADATA_LANGUAGE") or "en",
            error_url=f"{base_url}/sign-in-problem",
            scopes=scopes,
        )
        return cls(about=about, signed=_bool(env, "IDP_METADATA_SIGNED", True))


@dataclass(frozen=True)
class Settings:
    base_url: str
    port: int
    entity_id: str
    redis_url: str | None
    redis_prefix: str
    redis_socket_timeout: float
    redis_connect_timeout: float
    redis_claim_replicas: int
    sqlite_busy_timeout: float
    keys_dir: Path
    database_path: Path
    link_ttl: int
    link_single_use: bool
    assertion_ttl: int
    access_token_ttl: int
    refresh_token_ttl: int
    refresh_reuse_interval: int
    allow_http_urls: bool
    icon_max_bytes: int
    issuer_name: str
    smtp_url: str | None
    smtp_ca_file: Path | None
    mail_from: str
    outbox_dir: Path
    email_code_ttl: int
    proxy_hops: int
    session_ttl: int
    clock_skew: int
    keys_check_interval: float
    metadata: MetadataSettings
    password_reset_ttl: int = 30 * 60
    invitation_ttl: int = 72 * 3600
    log_format: str = "json"
    metrics_token: str | None = None
    audit_retention_days: int = 400

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        port = _int(env, "PORT", 5000)
        base_url = (env.get("IDP_BASE_URL") or f"http://127.0.0.1:{port}").rstrip("/")
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigurationError(f"IDP_BASE_URL must be an absolute http(s) URL, not {base_url!r}")
        redis_url = env.get("REDIS_URL") or None
        redis_address = parse_redis_url(redis_url) if redis_url else None
        return cls(
            base_url=base_url,
            port=port,
            entity_id=env.get("IDP_ENTITY_ID") or f"{base_url}/metadata",
            redis_url=redis_url,
            redis_prefix=env.get("IDP_REDIS_PREFIX", "idp:"),
            # Well under a second: a frozen Redis must cost a request a prompt 503, not a held worker.
            redis_socket_timeout=_float(env, "IDP_REDIS_SOCKET_TIMEOUT", 0.5),
            redis_connect_timeout=_float(env, "IDP_REDIS_CONNECT_TIMEOUT", 0.5),
            # Where a replica can be promoted, a claim only the old master saw would be forgotten by the new one.
            redis_claim_replicas=_int(
                env,
                "IDP_REDIS_CLAIM_REPLICAS",
                1 if redis_address is not None and redis_address.has_failover else 0,
                minimum=0,
            ),
            # Well under gunicorn's 30 s worker timeout, so a locked file answers 503 before the worker is killed.
            sqlite_busy_timeout=_float(env, "IDP_SQLITE_BUSY_TIMEOUT", 5.0),
            keys_dir=Path(env.get("IDP_KEYS_DIR", "keys")),
            database_path=Path(env.get("IDP_DATABASE", "var/idp.sqlite3")),
            link_ttl=_int(env, "IDP_LINK_TTL", 600),
            link_single_use=_bool(env, "IDP_LINK_SINGLE_USE", True),
            assertion_ttl=_int(env, "IDP_ASSERTION_TTL", 300),
            access_token_ttl=_int(env, "IDP_ACCESS_TOKEN_TTL", 3600),
            refresh_token_ttl=_int(env, "IDP_REFRESH_TOKEN_TTL", 30 * 24 * 3600),
            refresh_reuse_interval=_int(env, "IDP_REFRESH_REUSE_INTERVAL", 30, minimum=0),
            allow_http_urls=_bool(env, "IDP_ALLOW_HTTP_URLS", False),
            icon_max_bytes=_int(env, "IDP_ICON_MAX_BYTES", 512 * 1024),
            issuer_name=env.get("IDP_NAME") or parts.hostname,
            smtp_url=env.get("SMTP_URL") or None,
            smtp_ca_file=Path(env["SMTP_CA_FILE"]) if env.get("SMTP_CA_FILE") else None,
            mail_from=env.get("IDP_MAIL_FROM") or f"no-reply@{parts.hostname}",
            outbox_dir=Path(env.get("IDP_OUTBOX", "var/outbox")),
            email_code_ttl=_int(env, "IDP_EMAIL_CODE_TTL", 600),
            proxy_hops=_int(env, "IDP_PROXY_HOPS", 0, minimum=0),
            session_ttl=_int(env, "IDP_SESSION_TTL", 8 * 3600),
            clock_skew=_int(env, "IDP_CLOCK_SKEW", 180),
            # How soon a worker sees a key rollover: one stat of the keys folder's files this often.
            keys_check_interval=_float(env, "IDP_KEYS_CHECK_INTERVAL", 2.0),
            metadata=MetadataSettings.from_env(env, base_url, issuer_name=env.get("IDP_NAME") or parts.hostname),
            password_reset_ttl=_int(env, "IDP_PASSWORD_RESET_TTL", 30 * 60, minimum=60),
            invitation_ttl=_int(env, "IDP_INVITATION_TTL", 72 * 3600, minimum=60),
            log_format=_choice(env, "IDP_LOG_FORMAT", ("json", "console")),
            metrics_token=_metrics_token(env),
            audit_retention_days=_int(env, "IDP_AUDIT_RETENTION_DAYS", 400),
        )
