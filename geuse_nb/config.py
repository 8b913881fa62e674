"""Settings: one frozen dataclass, resolved from defaults, a tuning profile,
the environment, ``configure()`` and explicit arguments (rising precedence).

Environment names are the bash suite's (``CACHE_DIR``, ``PARALLEL_MAX_WORKERS``…),
each also readable as ``GEUSE_<NAME>``, which wins. A bad value raises
``ConfigError`` naming the variable, the value and the expected form.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from .errors import ConfigError
from .kinds import DEFAULT_KIND_TTLS

BACKENDS = ("sandbox", "aws", "auto")
RETRY_MODES = ("standard", "adaptive", "legacy")
TUNING_PROFILES: Mapping[str, Mapping[str, Any]] = MappingProxyType(
    {
        # The bash suite's documented profiles (performance-config.sh).
        "high-volume": {
            "pool_max_connections": 20,
            "cache_default_ttl": 3600.0,
            "parallel_max_workers": 50,
            "cache_memory_max_items": 10_000,
        },
        "memory-constrained": {
            "pool_max_connections": 5,
            "parallel_max_workers": 4,
            "cache_memory_max_items": 128,
            "cache_compression_enabled": True,
            "metrics_max_rows": 50_000,
        },
        "network-limited": {
            "pool_max_connections": 5,
            "parallel_max_workers": 5,
            "pool_connection_timeout": 30.0,
            "parallel_retry_count": 5,
            "pool_retry_mode": "adaptive",
            "cache_default_ttl": 1800.0,
        },
    }
)

FIELD_HELP: Mapping[str, str] = MappingProxyType({
    "cache_dir": "where the disk tier lives (created 0700)",
    "cache_default_ttl": "seconds a cached read stays fresh when its kind has no TTL",
    "cache_kind_ttls": "TTL per kind, e.g. `spot_prices=600,regions=3600`",
    "cache_memory_max_items": "entries in the memory tier (LRU); 0 turns it off",
    "cache_disk_enabled": "keep a disk tier (diskcache) behind the memory tier",
    "cache_disk_size_limit": "bytes the disk tier may use before LRU eviction",
    "cache_compression_enabled": "zlib-compress large values on disk",
    "cache_stale_if_error": "serve an expired entry up to this many seconds old when AWS fails",
    "cache_kind_stale": "that bound per kind, e.g. `regions=86400,spot_prices=0`",
    "parallel_max_workers": "workers per map; `auto` derives them from the CPU count",
    "parallel_job_timeout": "seconds one job may run before it is marked timed out",
    "parallel_retry_count": "job-level retries of a retryable failure (pmap, jobs, fanout)",
    "pool_max_connections": "HTTP connections per endpoint (botocore max_pool_connections)",
    "pool_idle_timeout": "seconds before an unused client is dropped",
    "pool_connection_timeout": "connect timeout, seconds",
    "pool_read_timeout": "read timeout, seconds",
    "pool_keep_alive": "TCP keep-alive on pooled connections",
    "pool_retry_mode": "botocore retry mode: standard, adaptive or legacy",
    "pool_max_attempts": "HTTP attempts per call inside botocore, first one included",
    "progress_no_color": "no ANSI colour (also `NO_COLOR`)",
    "progress_quiet": "no progress output at all",
    "progress_verbose_errors": "show tracebacks under error messages",
    "metrics_cloudwatch_export": "export metrics to CloudWatch when the kit closes",
    "metrics_namespace": "CloudWatch namespace of exported metrics",
    "metrics_collection_interval": "seconds between CPU/memory samples",
    "metrics_max_rows": "rows kept per metrics table (oldest drop off)",
    "debug": "debug logging for geuse_nb",
    "backend": "`sandbox`, `aws`, or `auto` (aws when credentials are found)",
    "aws_profile": "AWS profile for the aws backend",
    "tuning_profile": "`high-volume`, `memory-constrained` or `network-limited`",
    "sandbox_url": "join a running sandbox instead of starting one",
    "sandbox_seed": "seed of the sandbox's spot market and faults",
    "sandbox_home_region": "region the sandbox's latencies are measured from",
})


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "geuse_nb"


@dataclasses.dataclass(frozen=True)
class Settings:
    """Every knob of the kit. Build with ``resolve_settings()``; change with ``configure()``."""

    cache_dir: Path = dataclasses.field(default_factory=_default_cache_dir)
    cache_default_ttl: float = 300.0
    cache_kind_ttls: Mapping[str, float] = dataclasses.field(
        default_factory=lambda: DEFAULT_KIND_TTLS
    )
    cache_memory_max_items: int = 2048
    cache_disk_enabled: bool = True
    cache_disk_size_limit: int = 1 << 30
    cache_compression_enabled: bool = True
    cache_stale_if_error: float = 0.0
    cache_kind_stale: Mapping[str, float] = dataclasses.field(
        default_factory=lambda: MappingProxyType({})
    )
    parallel_max_workers: int | None = None
    parallel_job_timeout: float | None = 300.0
    parallel_retry_count: int = 3
    pool_max_connections: int = 10
    pool_idle_timeout: float = 300.0
    pool_connection_timeout: float = 10.0
    pool_read_timeout: float = 60.0
    pool_keep_alive: bool = True
    pool_retry_mode: str = "standard"
    pool_max_attempts: int = 3
    progress_no_color: bool = False
    progress_quiet: bool = False
    progress_verbose_errors: bool = False
    metrics_cloudwatch_export: bool = False
    metrics_namespace: str = "GeuseNB"
    metrics_collection_interval: float = 5.0
    metrics_max_rows: int = 500_000
    debug: bool = False
    backend: str = "auto"
    aws_profile: str | None = None
    tuning_profile: str | None = None
    sandbox_url: str | None = None
    sandbox_seed: int = 42
    sandbox_home_region: str = "us-east-1"

    def __getstate__(self) -> dict[str, Any]:
        state = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        for name in _KIND_MAPPINGS:
            state[name] = dict(state[name])
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        for key, value in state.items():
            object.__setattr__(self, key, value)
        for name in _KIND_MAPPINGS:
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))

    def replace(self, **changes: Any) -> Settings:
        """A copy with ``changes`` validated and applied."""
        return resolve_settings(base=self, **changes)

    def ttl_for(self, kind: str | None) -> float:
        """The TTL of a cache kind, falling back to ``cache_default_ttl``."""
        if kind is None:
            return self.cache_default_ttl
        return self.cache_kind_ttls.get(kind, self.cache_default_ttl)

    def stale_for(self, kind: str | None) -> float:
        """How long past expiry an entry of ``kind`` may still be served when AWS fails
        (``cache_kind_stale``, falling back to ``cache_stale_if_error``)."""
        if kind is None:
            return self.cache_stale_if_error
        return self.cache_kind_stale.get(kind, self.cache_stale_if_error)


_KIND_MAPPINGS = ("cache_kind_ttls", "cache_kind_stale")


# ---------------------------------------------------------------- parsing


def _bool(name: str, raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(name, raw, "a boolean: true/false, 1/0, yes/no or on/off")


def _number(name: str, raw: Any, kind: type, *, minimum: float, allow_none: bool) -> Any:
    what = "whole number" if kind is int else "number"
    if raw is None or (allow_none and str(raw).strip().lower() in ("", "none", "auto", "off")):
        if allow_none:
            return None
        raise ConfigError(name, raw, f"a {what} ≥ {minimum}")
    if isinstance(raw, bool):
        raise ConfigError(name, raw, f"a {what} ≥ {minimum}")
    try:
        value = kind(raw) if kind is float else int(str(raw).strip())
    except (TypeError, ValueError):
        extra = " (or 'auto')" if allow_none else ""
        raise ConfigError(name, raw, f"a {what} ≥ {minimum}{extra}") from None
    if value != value or value < minimum:  # NaN or below range
        raise ConfigError(name, raw, f"a {what} ≥ {minimum}")
    return value


def _choice(name: str, raw: Any, choices: tuple[str, ...], *, allow_none: bool = False) -> Any:
    if raw is None and allow_none:
        return None
    text = str(raw).strip().lower()
    if allow_none and text in ("", "none"):
        return None
    if text not in choices:
        raise ConfigError(name, raw, "one of " + ", ".join(choices))
    return text


def _text(name: str, raw: Any, *, allow_none: bool = False) -> Any:
    if raw is None and allow_none:
        return None
    text = str(raw).strip()
    if not text:
        if allow_none:
            return None
        raise ConfigError(name, raw, "a non-empty string")
    return text


def _kind_seconds(name: str, raw: Any, defaults: Mapping[str, float]) -> Mapping[str, float]:
    """``{"spot_prices": 600}`` or ``"spot_prices=600,regions=3600"``, merged over defaults."""
    given = raw
    if isinstance(raw, str):
        pairs: dict[str, Any] = {}
        for part in filter(None, (p.strip() for p in raw.split(","))):
            kind, sep, value = part.partition("=")
            if not sep or not kind.strip():
                raise ConfigError(name, raw, "comma-separated kind=seconds, e.g. spot_prices=600")
            pairs[kind.strip()] = value
        raw = pairs
    if not isinstance(raw, Mapping):
        raise ConfigError(name, raw, "a mapping of kind to seconds")
    merged = dict(defaults)
    for kind, value in raw.items():
        try:
            merged[str(kind)] = _number(name, value, float, minimum=0, allow_none=False)
        except ConfigError:
            raise ConfigError(name, given, f"seconds ≥ 0 for every kind ({kind!r} has "
                                           f"{value!r}), e.g. spot_prices=600") from None
    return MappingProxyType(merged)


def _path(name: str, raw: Any) -> Path:
    text = _text(name, raw)
    return Path(os.path.expandvars(text)).expanduser()


_Parser = Callable[[str, Any], Any]
_PARSERS: dict[str, _Parser] = {
    "cache_dir": _path,
    "cache_default_ttl": lambda n, v: _number(n, v, float, minimum=0, allow_none=False),
    "cache_kind_ttls": lambda n, v: _kind_seconds(n, v, DEFAULT_KIND_TTLS),
    "cache_kind_stale": lambda n, v: _kind_seconds(n, v, {}),
    "cache_memory_max_items": lambda n, v: _number(n, v, int, minimum=0, allow_none=False),
    "cache_disk_enabled": _bool,
    "cache_disk_size_limit": lambda n, v: _number(n, v, int, minimum=1 << 20, allow_none=False),
    "cache_compression_enabled": _bool,
    "cache_stale_if_error": lambda n, v: _number(n, v, float, minimum=0, allow_none=False),
    "parallel_max_workers": lambda n, v: _number(n, v, int, minimum=1, allow_none=True),
    "parallel_job_timeout": lambda n, v: _number(n, v, float, minimum=0.001, allow_none=True),
    "parallel_retry_count": lambda n, v: _number(n, v, int, minimum=0, allow_none=False),
    "pool_max_connections": lambda n, v: _number(n, v, int, minimum=1, allow_none=False),
    "pool_idle_timeout": lambda n, v: _number(n, v, float, minimum=0, allow_none=False),
    "pool_connection_timeout": lambda n, v: _number(n, v, float, minimum=0.001, allow_none=False),
    "pool_read_timeout": lambda n, v: _number(n, v, float, minimum=0.001, allow_none=False),
    "pool_keep_alive": _bool,
    "pool_retry_mode": lambda n, v: _choice(n, v, RETRY_MODES),
    "pool_max_attempts": lambda n, v: _number(n, v, int, minimum=1, allow_none=False),
    "progress_no_color": _bool,
    "progress_quiet": _bool,
    "progress_verbose_errors": _bool,
    "metrics_cloudwatch_export": _bool,
    "metrics_namespace": _text,
    "metrics_collection_interval":
        lambda n, v: _number(n, v, float, minimum=0.05, allow_none=False),
    "metrics_max_rows": lambda n, v: _number(n, v, int, minimum=100, allow_none=False),
    "debug": _bool,
    "backend": lambda n, v: _choice(n, v, BACKENDS),
    "aws_profile": lambda n, v: _text(n, v, allow_none=True),
    "tuning_profile": lambda n, v: _choice(n, v, tuple(TUNING_PROFILES), allow_none=True),
    "sandbox_url": lambda n, v: _text(n, v, allow_none=True),
    "sandbox_seed": lambda n, v: _number(n, v, int, minimum=0, allow_none=False),
    "sandbox_home_region": _text,
}

# Environment names per field: the bash suite's names, then extra geuse-only ones.
# Each is also read as GEUSE_<NAME>, which wins over the bare name.
ENV_NAMES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "cache_dir": ("CACHE_DIR",),
        "cache_default_ttl": ("CACHE_DEFAULT_TTL",),
        "cache_kind_ttls": ("CACHE_KIND_TTLS",),
        "cache_kind_stale": ("CACHE_KIND_STALE",),
        "cache_memory_max_items": ("CACHE_MEMORY_MAX_ITEMS",),
        "cache_disk_enabled": ("CACHE_DISK_ENABLED",),
        "cache_disk_size_limit": ("CACHE_DISK_SIZE_LIMIT",),
        "cache_compression_enabled": ("CACHE_COMPRESSION_ENABLED",),
        "cache_stale_if_error": ("CACHE_STALE_IF_ERROR",),
        "parallel_max_workers": ("PARALLEL_MAX_WORKERS",),
        "parallel_job_timeout": ("PARALLEL_JOB_TIMEOUT",),
        "parallel_retry_count": ("PARALLEL_RETRY_COUNT",),
        "pool_max_connections": ("POOL_MAX_CONNECTIONS",),
        "pool_idle_timeout": ("POOL_IDLE_TIMEOUT",),
        "pool_connection_timeout": ("POOL_CONNECTION_TIMEOUT",),
        "pool_read_timeout": ("POOL_READ_TIMEOUT",),
        "pool_keep_alive": ("POOL_KEEP_ALIVE",),
        "pool_retry_mode": ("POOL_RETRY_MODE",),
        "pool_max_attempts": ("POOL_MAX_ATTEMPTS",),
        "progress_no_color": ("PROGRESS_NO_COLOR",),
        "progress_quiet": ("PROGRESS_QUIET_MODE",),
        "progress_verbose_errors": ("PROGRESS_VERBOSE_ERRORS",),
        "metrics_cloudwatch_export": ("METRICS_CLOUDWATCH_EXPORT",),
        "metrics_namespace": ("METRICS_NAMESPACE",),
        "metrics_collection_interval": ("METRICS_COLLECTION_INTERVAL",),
        "metrics_max_rows": ("METRICS_MAX_ROWS",),
        "debug": ("DEBUG",),
        "backend": ("BACKEND",),
        "aws_profile": ("AWS_PROFILE",),
        "tuning_profile": ("TUNING_PROFILE",),
        "sandbox_url": ("SANDBOX_URL",),
        "sandbox_seed": ("SANDBOX_SEED",),
        "sandbox_home_region": ("SANDBOX_HOME_REGION",),
    }
)

# Names read only with the GEUSE_ prefix: bare AWS_PROFILE belongs to boto3 itself,
# and BACKEND/SANDBOX_* are too generic to claim without a prefix.
_PREFIX_ONLY = frozenset({"backend", "tuning_profile", "sandbox_url", "sandbox_seed",
                          "sandbox_home_region", "cache_kind_ttls", "cache_kind_stale"})


def env_names(field: str) -> tuple[str, ...]:
    """Environment variable names for ``field``, strongest first."""
    names = ENV_NAMES[field]
    prefixed = tuple(f"GEUSE_{n}" for n in names)
    if field in _PREFIX_ONLY:
        return prefixed
    if field == "aws_profile":
        return (*prefixed, "AWS_PROFILE")
    return prefixed + names


def _from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for field in ENV_NAMES:
        for name in env_names(field):
            if name in environ:
                found[field] = (name, environ[name])
                break
    # NO_COLOR (no-color.org): any non-empty value turns colour off.
    if environ.get("NO_COLOR") and "progress_no_color" not in found:
        found["progress_no_color"] = ("NO_COLOR", "1")
    return found


_FIELDS = {f.name for f in dataclasses.fields(Settings)}
_lock = threading.RLock()
_configured: dict[str, Any] = {}


def _check_names(values: Mapping[str, Any], where: str) -> None:
    unknown = sorted(set(values) - _FIELDS)
    if unknown:
        from .errors import UsageError, did_you_mean

        said = ", ".join(f"{n!r}{did_you_mean(n, _FIELDS, 1)}" for n in unknown)
        raise UsageError(f"{where}: unknown setting {said}",
                         suggestion="see geuse_nb.Settings for the field names")


def resolve_settings(
    *, base: Settings | None = None, environ: Mapping[str, str] | None = None, **explicit: Any
) -> Settings:
    """Build Settings: defaults < tuning profile < environment < configure() < explicit.

    With ``base``, only ``explicit`` is applied on top of it (for ``Settings.replace``).
    """
    _check_names(explicit, "settings")
    if base is not None:
        values = {f.name: getattr(base, f.name) for f in dataclasses.fields(base)}
        profile = explicit.get("tuning_profile")
        if profile:
            values.update(TUNING_PROFILES[_PARSERS["tuning_profile"]("tuning_profile", profile)])
        values.update(explicit)
        return _build({k: (k, v) for k, v in values.items()})

    env = _from_env(os.environ if environ is None else environ)
    with _lock:
        configured = dict(_configured)
    layered: dict[str, tuple[str, Any]] = {}
    layered.update({k: (f"configure({k}=...)", v) for k, v in configured.items()})
    layered.update({k: (k, v) for k, v in explicit.items()})

    profile_raw = layered.get("tuning_profile") or env.get("tuning_profile")
    profile_name = (
        _PARSERS["tuning_profile"](profile_raw[0], profile_raw[1]) if profile_raw else None
    )
    values: dict[str, tuple[str, Any]] = {}
    if profile_name:
        for k, v in TUNING_PROFILES[profile_name].items():
            values[k] = (f"tuning profile {profile_name!r}", v)
    values.update(env)
    values.update(layered)
    return _build(values)


def _build(values: Mapping[str, tuple[str, Any]]) -> Settings:
    parsed: dict[str, Any] = {}
    for field, (source, raw) in values.items():
        if raw is None and field in ("parallel_max_workers", "parallel_job_timeout",
                                     "aws_profile", "tuning_profile", "sandbox_url"):
            parsed[field] = None
            continue
        parsed[field] = _PARSERS[field](source, raw)
    return Settings(**parsed)


def configure(**changes: Any) -> Settings:
    """Change settings for every Kit created from now on; returns the resolved Settings.

    ``configure(name=None)`` forgets an earlier ``configure`` of ``name``.
    """
    _check_names(changes, "configure()")
    resolve_settings(**{k: v for k, v in changes.items() if v is not None})  # validate first
    with _lock:
        for key, value in changes.items():
            if value is None:
                _configured.pop(key, None)
            else:
                _configured[key] = value
    return resolve_settings()


@contextlib.contextmanager
def settings_context(**changes: Any) -> Iterator[Settings]:
    """``with settings_context(progress_quiet=True): ...`` — configure, then restore."""
    _check_names(changes, "settings_context()")
    with _lock:
        saved = dict(_configured)
    try:
        yield configure(**changes)
    finally:
        with _lock:
            _configured.clear()
            _configured.update(saved)


def reset_configuration() -> None:
    """Forget everything set with ``configure()`` (tests and notebooks starting over)."""
    with _lock:
        _configured.clear()
