"""Settings, read once from the environment."""

from __future__ import annotations

import ipaddress
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parseaddr
from pathlib import Path
from urllib.parse import urlsplit

from idp.errors import ConfigurationError


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


def is_loopback_host(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class MetadataSettings:
    """What the IdP's metadata says of it beyond its endpoints and keys."""

    valid_for: int  # seconds from now to validUntil
    cache_duration: int  # seconds, as cacheDuration
    signed: bool
    organization_name: str
    organization_display_name: str
    organization_url: str
    contact_email: str
    contact_name: str | None
    display_name: str
    logo_url: str | None
    logo_width: int
    logo_height: int
    language: str
    error_url: str
    scopes: tuple[str, ...]

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
        return cls(
            valid_for=valid_for,
            cache_duration=cache_duration,
            signed=_bool(env, "IDP_METADATA_SIGNED", True),
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


@dataclass(frozen=True)
class Settings:
    base_url: str
    port: int
    entity_id: str
    redis_url: str | None
    redis_prefix: str
    redis_socket_timeout: float
    redis_connect_timeout: float
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

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        port = _int(env, "PORT", 5000)
        base_url = (env.get("IDP_BASE_URL") or f"http://127.0.0.1:{port}").rstrip("/")
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigurationError(f"IDP_BASE_URL must be an absolute http(s) URL, not {base_url!r}")
        return cls(
            base_url=base_url,
            port=port,
            entity_id=env.get("IDP_ENTITY_ID") or f"{base_url}/metadata",
            redis_url=env.get("REDIS_URL") or None,
            redis_prefix=env.get("IDP_REDIS_PREFIX", "idp:"),
            # Well under a second: a frozen Redis must cost a request a prompt 503, not a held worker.
            redis_socket_timeout=_float(env, "IDP_REDIS_SOCKET_TIMEOUT", 0.5),
            redis_connect_timeout=_float(env, "IDP_REDIS_CONNECT_TIMEOUT", 0.5),
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
        )
