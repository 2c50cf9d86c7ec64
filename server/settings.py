"""The relay's one settings object: defaults from ``config/defaults.toml``, then an optional
config file, then ``JIULIU_*`` environment variables (``MONGO_URL`` as is), then explicit
overrides (command-line flags, tests). Nothing else in the project reads ``os.environ``."""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import urlsplit, urlunsplit

from server.client_ip import parse_networks

DEFAULTS_FILE = Path(__file__).resolve().parent.parent / "config" / "defaults.toml"
ENV_PREFIX = "JIULIU_"
LOG_LEVELS = ("debug", "info", "warning", "error")
SECRET_FIELDS = ("jwt_secret", "metrics_token", "secrets_key")


class SettingsError(ValueError):
    """A setting is invalid; the message says which one and what to do."""


@dataclass(frozen=True)
class Settings:
    """Typed, validated, immutable configuration; secrets are hidden from ``repr``."""

    host: str = "127.0.0.1"
    port: int = 3000
    public_url: str = ""
    mongo_url: str = field(default="", repr=False)
    db_name: str = "jiuliu"
    data_dir: str = "./data"
    embedded_db_start_timeout: float = 30.0
    log_level: str = "info"
    jwt_secret: str = field(default="", repr=False)
    session_ttl: int = 7200
    bcrypt_rounds: int = 12
    max_body_bytes: int = 32 * 1024 * 1024
    shutdown_grace: float = 15.0
    upstream_connect_timeout: float = 10.0
    upstream_first_byte_timeout: float = 120.0
    upstream_response_timeout: float = 600.0
    upstream_idle_timeout: float = 300.0
    upstream_proxy: str = field(default="", repr=False)
    upstream_ca_file: str = ""
    max_attempts: int = 3
    abort_drain: float = 5.0
    sticky_ttl: int = 3600
    encrypted_context_ttl: int = 30 * 86400
    encrypted_context_max_wait: float = 60.0
    usage_flush_interval: float = 0.5
    health_probe_interval: float = 30.0
    metrics_token: str = field(default="", repr=False)
    currency: str = "USD"
    workers: int = 1
    demo: bool = False
    trusted_proxies: str = ""
    login_account_attempts: int = 5
    login_ip_attempts: int = 20
    metrics_open: bool = False
    secrets_key: str = field(default="", repr=False)
    # Limits that hold under load (issue 14): body sizes per route, fair share, holds.
    dashboard_max_body_bytes: int = 65536
    body_read_timeout: float = 60.0
    user_pool_share: float = 0.5
    user_max_concurrency: int = 8
    client_write_timeout: float = 60.0
    hold_output_cap: int = 8192
    overdraft: int = 0
    log_format: str = "text"
    # Database timeouts by class of operation (issue 16; server.storage.timeouts), seconds.
    db_timeout_relay: float = 5.0
    db_timeout_api: float = 15.0
    db_timeout_flush: float = 30.0
    db_timeout_jobs: float = 300.0
    hold_lease_requests: int = 32
    hold_lease_seconds: float = 5.0
    event_loop: str = "uvloop"

    def __post_init__(self) -> None:
        _validate(self)

    @property
    def data_path(self) -> Path:
        """The data directory as an absolute path."""
        return Path(self.data_dir).expanduser().resolve()

    def safe_summary(self) -> dict[str, Any]:
        """Settings fit to print or log: secrets replaced, database password masked."""
        out = dataclasses.asdict(self)
        for name in SECRET_FIELDS:
            out[name] = "***" if out[name] else ""
        out["mongo_url"] = mask_url(self.mongo_url)
        out["upstream_proxy"] = mask_url(self.upstream_proxy)
        return out

    def replace(self, **changes: Any) -> "Settings":
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


def mask_url(url: str) -> str:
    """Hide the password of a connection URL."""
    if not url:
        return ""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _validate(s: Settings) -> None:
    if not 0 <= s.port <= 65535:
        raise SettingsError(f"port: {s.port} is not a TCP port; use 1-65535 (0 picks a free one)")
    if s.mongo_url:
        parts = urlsplit(s.mongo_url)
        hosts = parts.netloc.rpartition("@")[2]
        if parts.scheme not in ("mongodb", "mongodb+srv") or not hosts:
            raise SettingsError(
                "mongo_url (MONGO_URL): expected mongodb://host:port/ or mongodb+srv://host/, "
                f"got {mask_url(s.mongo_url)!r}; leave it empty to use the embedded database"
            )
    if not s.db_name or any(c in s.db_name for c in '/\\. "$'):
        raise SettingsError(f"db_name: {s.db_name!r} is not a valid MongoDB database name")
    if s.log_level not in LOG_LEVELS:
        raise SettingsError(f"log_level: {s.log_level!r}; use one of {', '.join(LOG_LEVELS)}")
    if s.log_format not in ("text", "json"):
        raise SettingsError(f"log_format: {s.log_format!r}; use text or json")
    if s.bcrypt_rounds < 4 or s.bcrypt_rounds > 16:
        raise SettingsError("bcrypt_rounds: use 12-14 in production (4-16 accepted)")
    if s.workers < 1:
        raise SettingsError("workers: at least 1")
    if s.public_url and urlsplit(s.public_url).scheme not in ("http", "https"):
        raise SettingsError(f"public_url: {s.public_url!r} must start with http:// or https://")
    if s.upstream_proxy:
        from server.proxy_urls import parse_proxy
        try:
            parse_proxy(s.upstream_proxy)
        except ValueError as exc:
            raise SettingsError(f"upstream_proxy: {exc} (got {mask_url(s.upstream_proxy)!r})") from None
    if s.upstream_ca_file and not Path(s.upstream_ca_file).expanduser().is_file():
        raise SettingsError(f"upstream_ca_file: {s.upstream_ca_file!r} is not a readable PEM file")
    try:
        parse_networks(s.trusted_proxies)
    except ValueError as exc:
        raise SettingsError(f"trusted_proxies: {exc}; give a comma-separated list of CIDRs, "
                            "e.g. \"10.0.0.0/8, 127.0.0.1/32\"") from None
    if not 0 < s.user_pool_share <= 1:
        raise SettingsError("user_pool_share: a fraction of a group's capacity, above 0 and at most 1")
    if s.overdraft < 0:
        raise SettingsError("overdraft: micro-units a user may go below zero; 0 or more")
    if s.event_loop not in ("uvloop", "asyncio"):
        raise SettingsError("event_loop: \"uvloop\" or \"asyncio\"")
    if s.hold_lease_requests < 0 or s.hold_lease_seconds <= 0:
        raise SettingsError("hold_lease_requests: 0 or more estimates (0: a hold per request); "
                            "hold_lease_seconds: a positive number of seconds")
    for name in ("session_ttl", "max_body_bytes", "max_attempts", "sticky_ttl", "login_account_attempts",
                 "login_ip_attempts", "encrypted_context_ttl", "dashboard_max_body_bytes",
                 "user_max_concurrency", "hold_output_cap"):
        if getattr(s, name) <= 0:
            raise SettingsError(f"{name}: must be a positive number")
    if s.encrypted_context_max_wait < 0:
        raise SettingsError("encrypted_context_max_wait: must be 0 or more seconds")
    for name in ("embedded_db_start_timeout", "shutdown_grace", "upstream_connect_timeout", "abort_drain",
                 "upstream_first_byte_timeout", "upstream_idle_timeout", "usage_flush_interval",
                 "health_probe_interval", "body_read_timeout", "client_write_timeout",
                 "upstream_response_timeout"):
        if getattr(s, name) <= 0:
            raise SettingsError(f"{name}: must be a positive number of seconds")


    for name in ("db_timeout_relay", "db_timeout_api", "db_timeout_flush", "db_timeout_jobs"):
        if not 0 < getattr(s, name) <= 86400:
            raise SettingsError(f"{name}: seconds a database operation may take, above 0 (at most a day)")


def _coerce(name: str, kind: type, value: Any, source: str) -> Any:
    """Turn a TOML or environment value into the field's type, with an actionable error."""
    try:
        if kind is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off", ""):
                return False
            raise ValueError(value)
        if kind is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError(value)
            return int(str(value).strip()) if isinstance(value, str) else int(value)
        if kind is float:
            if isinstance(value, bool):
                raise ValueError(value)
            return float(value)
        return str(value)
    except (TypeError, ValueError):
        raise SettingsError(f"{name} ({source}): {value!r} is not a valid {kind.__name__}") from None


_TYPES = {"str": str, "int": int, "float": float, "bool": bool}


def _field_types() -> dict[str, type]:
    return {f.name: _TYPES[f.type if isinstance(f.type, str) else f.type.__name__] for f in fields(Settings)}


def _read_toml(path: Path, what: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise SettingsError(f"{what} {path} does not exist") from None
    except PermissionError:
        raise SettingsError(f"{what} {path} is not readable (permission denied)") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{what} {path} is not valid TOML: {exc}") from None


def load_settings(
    config_file: str | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build settings from defaults, file, environment and overrides, in that order."""
    env = os.environ if env is None else env
    types = _field_types()
    values: dict[str, Any] = {}

    def merge(source: Mapping[str, Any], label: str) -> None:
        for key, value in source.items():
            if key not in types:
                raise SettingsError(f"{label}: unknown setting {key!r}; see the README's table")
            values[key] = _coerce(key, types[key], value, label)

    merge(_read_toml(DEFAULTS_FILE, "defaults file"), "config/defaults.toml")
    config_file = config_file or env.get(ENV_PREFIX + "CONFIG")
    if config_file:
        merge(_read_toml(Path(config_file), "config file"), str(config_file))
    from_env = {name: env[ENV_PREFIX + name.upper()] for name in types if ENV_PREFIX + name.upper() in env}
    if "mongo_url" not in from_env and env.get("MONGO_URL"):
        from_env["mongo_url"] = env["MONGO_URL"]
    merge(from_env, "environment")
    if overrides:
        merge({k: v for k, v in overrides.items() if v is not None}, "command line")
    return Settings(**values)
