"""Settings: one frozen dataclass, resolved from defaults, a tuning profile,
the environment, ``configure()`` and explicit arguments (rising precedence).

Each field is declared once, in ``Settings``: its default and a ``Meta``
(environment names, parser, help, how the README shows the default). Parsing,
the environment lookup, ``ENV_NAMES`` and the README's settings table
(``settings_table()``, checked by a test) are all derived from that one
declaration, so a new setting is one field, not five parallel tables.

Environment names are the bash suite's (``CACHE_DIR``, ``PARALLEL_MAX_WORKERS``…),
each also readable as ``GEUSE_<NAME>``, which wins; geuse-only names too generic
to claim bare are read only with the prefix. A bad ``GEUSE_`` value raises
``ConfigError`` naming the variable, the value and the expected form; a bare name
whose value does not parse belongs to some other tool (``DEBUG=express:*`` is the
``debug`` npm package's, set by many Node tools) and is ignored, with one DEBUG
line in the log per name and value. An unknown setting or cache kind gets "did you
mean".

Module-level state: ``_configured`` (what ``configure()`` set, for kits made from
now on) and, while ``debug`` is on, one stderr handler on the ``geuse_nb`` logger.
A package so that its helpers stay private to it: ``_parse`` (how raw values
become typed ones), ``_env`` (which environment names are read, and when a bare one
is someone else's) and ``_logging`` (what ``debug`` does); ``from geuse_nb.config
import ...`` names everything public.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import field as _field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ..errors import UsageError, did_you_mean
from ..kinds import DEFAULT_KIND_TTLS
from . import _env
from ._logging import debug_logging
from ._parse import (
    boolean,
    choice,
    kind_seconds,
    number,
    one_of,
    path,
    shown_default,
    text,
)

KIT_BACKENDS = ("sandbox", "aws", "auto")
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


@dataclasses.dataclass(frozen=True)
class Meta:
    """Everything about a setting besides its type and default."""

    env: tuple[str, ...]  # the bash suite's names; each also read as GEUSE_<NAME>, which wins
    parse: Callable[[str, Any], Any]  # (where the value came from, raw value) -> value
    help: str
    prefix_only: bool = False  # read only as GEUSE_<NAME>: the bare name is someone else's
    flag_env: tuple[str, ...] = ()  # any non-empty value means True, weakest (NO_COLOR)
    shown: str | None = None  # the default as the README shows it, when str() will not do


_KEY = "geuse_nb"


def _meta(env: str, parse: Callable[[str, Any], Any], help: str, **more: Any) -> dict[str, Meta]:
    return {_KEY: Meta(env=(env,), parse=parse, help=help, **more)}


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "geuse_nb"


_ttl = number(float, 0)


@dataclasses.dataclass(frozen=True)
class Settings:
    """Every knob of the kit. Build with ``resolve_settings()``; change with ``configure()``."""

    cache_dir: Path = _field(default_factory=_default_cache_dir, metadata=_meta(
        "CACHE_DIR", path, "where the disk tier lives (created 0700)",
        shown="`$XDG_CACHE_HOME/geuse_nb`, else ~/.cache/geuse_nb"))
    cache_default_ttl: float = _field(default=300.0, metadata=_meta(
        "CACHE_DEFAULT_TTL", _ttl, "seconds a cached read stays fresh when its kind has no TTL"))
    cache_kind_ttls: Mapping[str, float] = _field(
        default_factory=lambda: DEFAULT_KIND_TTLS, metadata=_meta(
            "CACHE_KIND_TTLS", kind_seconds(DEFAULT_KIND_TTLS),
            "TTL per kind, e.g. `spot_prices=600,regions=3600`; kinds are those of "
            "`geuse_nb.kinds`", prefix_only=True))
    cache_memory_max_items: int = _field(default=2048, metadata=_meta(
        "CACHE_MEMORY_MAX_ITEMS", number(int, 0),
        "entries in the memory tier (LRU); 0 turns it off"))
    cache_disk_enabled: bool = _field(default=True, metadata=_meta(
        "CACHE_DISK_ENABLED", boolean, "keep a disk tier (diskcache) behind the memory tier"))
    cache_disk_size_limit: int = _field(default=1 << 30, metadata=_meta(
        "CACHE_DISK_SIZE_LIMIT", number(int, 1 << 20),
        "bytes the disk tier may use before LRU eviction", shown="1073741824 (1 GiB)"))
    cache_compression_enabled: bool = _field(default=True, metadata=_meta(
        "CACHE_COMPRESSION_ENABLED", boolean, "zlib-compress large values on disk"))
    cache_write_behind: bool = _field(default=True, metadata=_meta(
        "CACHE_WRITE_BEHIND", boolean,
        "answers reach the disk tier from a background writer, in batches (off: in the "
        "caller's thread)", prefix_only=True))
    cache_stale_if_error: float = _field(default=0.0, metadata=_meta(
        "CACHE_STALE_IF_ERROR", _ttl,
        "serve an expired entry up to this many seconds old when AWS fails"))
    cache_kind_stale: Mapping[str, float] = _field(
        default_factory=lambda: MappingProxyType({}), metadata=_meta(
            "CACHE_KIND_STALE", kind_seconds({}),
            "`cache_stale_if_error` per kind, e.g. `regions=86400,spot_prices=0`",
            prefix_only=True))
    parallel_max_workers: int | None = _field(default=None, metadata=_meta(
        "PARALLEL_MAX_WORKERS", number(int, 1, nullable=True),
        "workers per map; `auto` derives them from the CPU count", shown="auto"))
    parallel_max_in_flight: int = _field(default=64, metadata=_meta(
        "PARALLEL_MAX_IN_FLIGHT", number(int, 1),
        "AWS requests a fan-out sends at once by default (also at most "
        "`pool_max_connections` per endpoint)", prefix_only=True))
    parallel_job_timeout: float | None = _field(default=300.0, metadata=_meta(
        "PARALLEL_JOB_TIMEOUT", number(float, 0.001, nullable=True),
        "seconds one job may run before it is marked timed out; `off` for no limit"))
    parallel_retry_count: int = _field(default=3, metadata=_meta(
        "PARALLEL_RETRY_COUNT", number(int, 0),
        "job-level retries of a retryable failure (pmap, jobs, fanout)"))
    pool_max_connections: int = _field(default=10, metadata=_meta(
        "POOL_MAX_CONNECTIONS", number(int, 1),
        "HTTP connections per endpoint (botocore max_pool_connections)"))
    pool_idle_timeout: float = _field(default=300.0, metadata=_meta(
        "POOL_IDLE_TIMEOUT", _ttl, "seconds before an unused client is dropped"))
    pool_connection_timeout: float = _field(default=10.0, metadata=_meta(
        "POOL_CONNECTION_TIMEOUT", number(float, 0.001), "connect timeout, seconds"))
    pool_read_timeout: float = _field(default=60.0, metadata=_meta(
        "POOL_READ_TIMEOUT", number(float, 0.001), "read timeout, seconds"))
    pool_keep_alive: bool = _field(default=True, metadata=_meta(
        "POOL_KEEP_ALIVE", boolean, "TCP keep-alive on pooled connections"))
    pool_retry_mode: str = _field(default="standard", metadata=_meta(
        "POOL_RETRY_MODE", choice(RETRY_MODES),
        "botocore retry mode: " + one_of(RETRY_MODES)))
    pool_max_attempts: int = _field(default=3, metadata=_meta(
        "POOL_MAX_ATTEMPTS", number(int, 1),
        "HTTP attempts per call inside botocore, first one included"))
    progress_no_color: bool = _field(default=False, metadata=_meta(
        "PROGRESS_NO_COLOR", boolean, "no ANSI colour; any non-empty `NO_COLOR` also turns it "
        "off (no-color.org)", flag_env=("NO_COLOR",)))
    progress_quiet: bool = _field(default=False, metadata=_meta(
        "PROGRESS_QUIET_MODE", boolean, "no progress output at all"))
    progress_verbose_errors: bool = _field(default=False, metadata=_meta(
        "PROGRESS_VERBOSE_ERRORS", boolean, "show tracebacks under error messages"))
    metrics_cloudwatch_export: bool = _field(default=False, metadata=_meta(
        "METRICS_CLOUDWATCH_EXPORT", boolean, "export metrics to CloudWatch when the kit closes"))
    metrics_namespace: str = _field(default="GeuseNB", metadata=_meta(
        "METRICS_NAMESPACE", text(), "CloudWatch namespace of exported metrics"))
    metrics_collection_interval: float = _field(default=5.0, metadata=_meta(
        "METRICS_COLLECTION_INTERVAL", number(float, 0.05), "seconds between CPU/memory samples"))
    metrics_max_rows: int = _field(default=500_000, metadata=_meta(
        "METRICS_MAX_ROWS", number(int, 100), "rows kept per metrics table (oldest drop off)"))
    debug: bool = _field(default=False, metadata=_meta(
        "DEBUG", boolean, "DEBUG logging of the `geuse_nb` logger (to stderr unless it has a "
        "handler of its own): on when a kit with it is built or at `configure(debug=True)`, "
        "off at `configure(debug=False)`"))
    backend: str = _field(default="auto", metadata=_meta(
        "BACKEND", choice(KIT_BACKENDS),
        "`sandbox`, `aws`, or `auto` (aws when credentials are found)", prefix_only=True))
    aws_profile: str | None = _field(default=None, metadata=_meta(
        "AWS_PROFILE", text(nullable=True), "AWS profile for the aws backend"))
    role_name: str = _field(default="OrganizationAccountAccessRole", metadata=_meta(
        "ROLE_NAME", text(), "role assumed in each account a call names with `account=` "
        "(the role AWS Organizations creates in member accounts)", prefix_only=True))
    tuning_profile: str | None = _field(default=None, metadata=_meta(
        "TUNING_PROFILE", choice(tuple(TUNING_PROFILES), nullable=True),
        one_of(TUNING_PROFILES, "`{}`"), prefix_only=True))
    sandbox_url: str | None = _field(default=None, metadata=_meta(
        "SANDBOX_URL", text(nullable=True), "join a running sandbox instead of starting one",
        prefix_only=True))
    sandbox_seed: int = _field(default=42, metadata=_meta(
        "SANDBOX_SEED", number(int, 0), "seed of the sandbox's spot market and faults",
        prefix_only=True))
    sandbox_home_region: str = _field(default="us-east-1", metadata=_meta(
        "SANDBOX_HOME_REGION", text(), "region the sandbox's latencies are measured from",
        prefix_only=True))

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

# ------------------------------------------------------ derived from the declarations

FIELD_META: Mapping[str, Meta] = MappingProxyType(
    {f.name: f.metadata[_KEY] for f in dataclasses.fields(Settings)})
ENV_NAMES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {name: meta.env for name, meta in FIELD_META.items()})


def env_names(field: str) -> tuple[str, ...]:
    """Environment variable names for ``field``, strongest first (``NO_COLOR``-style
    flags, weaker still, are in ``FIELD_META[field].flag_env``)."""
    return _env.names(FIELD_META[field])


def _from_env(environ: Mapping[str, str]) -> dict[str, tuple[str, Any]]:
    return _env.read(environ, FIELD_META)


def settings_table() -> str:
    """The README's settings table, rendered from the declarations (a test checks that
    README.md contains exactly this)."""
    rows = ["| setting | environment: `GEUSE_` name (strict), bare name (ignored when its value "
            "does not parse) | default | meaning |", "|---|---|---|---|"]
    for f in dataclasses.fields(Settings):
        meta: Meta = f.metadata[_KEY]
        names = ", ".join(f"`{n}`" for n in (*env_names(f.name), *meta.flag_env))
        if meta.shown is not None:
            default = meta.shown
        else:
            factory: Callable[[], Any] | Any = f.default_factory
            value = factory() if callable(factory) else f.default
            default = shown_default(value)
        cells = (f"`{f.name}`", names, default, meta.help)
        rows.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(rows) + "\n"


# ------------------------------------------------------------------ resolution

_lock = threading.RLock()
_configured: dict[str, Any] = {}  # module-level state: configure()'s changes


def _check_names(values: Mapping[str, Any], where: str) -> None:
    unknown = sorted(set(values) - set(FIELD_META))
    if unknown:
        said = ", ".join(f"{n!r}{did_you_mean(n, FIELD_META, 1)}" for n in unknown)
        raise UsageError(f"{where}: unknown setting {said}",
                         suggestion="see geuse_nb.Settings for the field names")


def _profile(source: str, raw: Any) -> Mapping[str, Any]:
    name = FIELD_META["tuning_profile"].parse(source, raw)
    return TUNING_PROFILES[name] if name else {}


def resolve_settings(
    *, base: Settings | None = None, environ: Mapping[str, str] | None = None, **explicit: Any
) -> Settings:
    """Build Settings: defaults < tuning profile < environment < configure() < explicit.

    With ``base``, only ``explicit`` is applied on top of it (for ``Settings.replace``).
    """
    _check_names(explicit, "settings")
    if base is not None:
        given = {f.name: getattr(base, f.name) for f in dataclasses.fields(base)}
        if explicit.get("tuning_profile"):
            given.update(_profile("tuning_profile", explicit["tuning_profile"]))
        given.update(explicit)
        return _build({k: (k, v) for k, v in given.items()})

    env = _from_env(os.environ if environ is None else environ)
    with _lock:
        configured = dict(_configured)
    layered: dict[str, tuple[str, Any]] = {}
    layered.update({k: (f"configure({k}=...)", v) for k, v in configured.items()})
    layered.update({k: (k, v) for k, v in explicit.items()})

    profile_raw = layered.get("tuning_profile") or env.get("tuning_profile")
    values: dict[str, tuple[str, Any]] = {}
    if profile_raw:
        profile = _profile(*profile_raw)
        where = f"tuning profile {profile_raw[1]!r}"
        values.update({k: (where, v) for k, v in profile.items()})
    values.update(env)
    values.update(layered)
    return _build(values)


def _build(values: Mapping[str, tuple[str, Any]]) -> Settings:
    return Settings(**{field: FIELD_META[field].parse(source, raw)
                       for field, (source, raw) in values.items()})


def configure(**changes: Any) -> Settings:
    """Change settings for every Kit created from now on; returns the resolved Settings.

    ``configure(name=None)`` forgets an earlier ``configure`` of ``name``;
    ``configure(debug=...)`` also turns ``geuse_nb`` debug logging on or off now
    (``debug=None``, ``reset_configuration()`` and leaving a ``settings_context``
    that set it turn it off again).
    """
    _check_names(changes, "configure()")
    resolve_settings(**{k: v for k, v in changes.items() if v is not None})  # validate first
    with _lock:
        for key, value in changes.items():
            if value is None:
                _configured.pop(key, None)
            else:
                _configured[key] = value
    if "debug" in changes:
        _configured_debug()
    return resolve_settings()


def _configured_debug() -> None:
    """Debug logging as configure() now says (forgotten = off; the environment's
    ``GEUSE_DEBUG`` acts when a kit is built)."""
    with _lock:
        raw = _configured.get("debug", False)
    debug_logging(FIELD_META["debug"].parse("configure(debug=...)", raw))


def _restore(saved: Mapping[str, Any]) -> None:
    with _lock:
        debug_changed = _configured.get("debug") != saved.get("debug")
        _configured.clear()
        _configured.update(saved)
    if debug_changed:
        _configured_debug()


@contextlib.contextmanager
def settings_context(**changes: Any) -> Iterator[Settings]:
    """``with settings_context(progress_quiet=True): ...`` — configure, then restore."""
    _check_names(changes, "settings_context()")
    with _lock:
        saved = dict(_configured)
    try:
        yield configure(**changes)
    finally:
        _restore(saved)


def reset_configuration() -> None:
    """Forget everything set with ``configure()`` (tests and notebooks starting over)."""
    _restore({})
