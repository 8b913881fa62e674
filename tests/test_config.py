"""Settings: every field's default, environment names, precedence and bad values."""

from __future__ import annotations

import dataclasses
import logging
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import geuse_nb as gn
from geuse_nb.config import (
    ENV_NAMES,
    FIELD_META,
    debug_logging,
    env_names,
    resolve_settings,
    settings_table,
)
from geuse_nb.kinds import KIND_NAMES

# field: (documented default, a good env value, what it parses to, a bad env value)
CASES = {
    "cache_dir": (None, "/tmp/geuse-x", Path("/tmp/geuse-x"), "   "),
    "cache_default_ttl": (300.0, "60", 60.0, "-5"),
    "cache_kind_ttls": (None, "spot_prices=60", None, "spot_prices"),
    "cache_memory_max_items": (2048, "10", 10, "ten"),
    "cache_disk_enabled": (True, "false", False, "maybe"),
    "cache_disk_size_limit": (1 << 30, str(1 << 21), 1 << 21, "12"),
    "cache_compression_enabled": (True, "0", False, "2"),
    "cache_write_behind": (True, "off", False, "later"),
    "cache_stale_if_error": (0.0, "600", 600.0, "-1"),
    "cache_kind_stale": (None, "spot_prices=60", None, "spot_prices=-1"),
    "parallel_max_workers": (None, "7", 7, "abc"),
    "parallel_max_in_flight": (64, "128", 128, "0"),
    "parallel_job_timeout": (300.0, "2.5", 2.5, "-3"),
    "parallel_retry_count": (3, "5", 5, "1.5"),
    "pool_max_connections": (10, "20", 20, "0"),
    "pool_idle_timeout": (300.0, "30", 30.0, "soon"),
    "pool_connection_timeout": (10.0, "3", 3.0, "0"),
    "pool_read_timeout": (60.0, "5", 5.0, "-1"),
    "pool_keep_alive": (True, "no", False, "perhaps"),
    "pool_retry_mode": ("standard", "adaptive", "adaptive", "aggressive"),
    "pool_max_attempts": (3, "1", 1, "0"),
    "progress_no_color": (False, "1", True, "x"),
    "progress_quiet": (False, "yes", True, "x"),
    "progress_verbose_errors": (False, "on", True, "x"),
    "metrics_cloudwatch_export": (False, "true", True, "x"),
    "metrics_namespace": ("GeuseNB", "Ops/Team", "Ops/Team", " "),
    "metrics_collection_interval": (5.0, "1", 1.0, "0"),
    "metrics_max_rows": (500_000, "1000", 1000, "10"),
    "debug": (False, "1", True, "x"),
    "backend": ("auto", "aws", "aws", "azure"),
    "aws_profile": (None, "ops", "ops", None),
    "role_name": ("OrganizationAccountAccessRole", "Auditor", "Auditor", " "),
    "tuning_profile": (None, "high-volume", "high-volume", "turbo"),
    "sandbox_url": (None, "http://127.0.0.1:5000", "http://127.0.0.1:5000", None),
    "sandbox_seed": (42, "7", 7, "-1"),
    "sandbox_home_region": ("us-east-1", "eu-west-1", "eu-west-1", " "),
}


# field: (a value given to configure(), a value given explicitly), both valid, both unlike
# the env value above and unlike each other
LAYERS: dict[str, tuple[object, object]] = {
    "cache_dir": ("/tmp/geuse-c", "/tmp/geuse-e"),
    "cache_kind_ttls": ({"spot_prices": 70}, {"spot_prices": 80}),
    "cache_kind_stale": ({"spot_prices": 70}, {"spot_prices": 80}),
    "cache_default_ttl": (70, 80), "cache_memory_max_items": (70, 80),
    "cache_disk_enabled": (True, False), "cache_disk_size_limit": (1 << 22, 1 << 23),
    "cache_compression_enabled": (True, False), "cache_stale_if_error": (70, 80),
    "cache_write_behind": (True, False), "parallel_max_in_flight": (70, 80),
    "parallel_max_workers": (70, 80), "parallel_job_timeout": (70, 80),
    "parallel_retry_count": (7, 8), "pool_max_connections": (70, 80),
    "pool_idle_timeout": (70, 80), "pool_connection_timeout": (70, 80),
    "pool_read_timeout": (70, 80), "pool_keep_alive": (True, False),
    "pool_retry_mode": ("legacy", "standard"), "pool_max_attempts": (7, 8),
    "progress_no_color": (False, True), "progress_quiet": (False, True),
    "progress_verbose_errors": (False, True), "metrics_cloudwatch_export": (False, True),
    "metrics_namespace": ("A/B", "C/D"), "metrics_collection_interval": (7, 8),
    "metrics_max_rows": (7000, 8000), "debug": (False, True), "backend": ("sandbox", "auto"),
    "aws_profile": ("c", "e"), "role_name": ("RoleC", "RoleE"),
    "tuning_profile": ("memory-constrained", "network-limited"),
    "sandbox_url": ("http://127.0.0.1:7", "http://127.0.0.1:8"), "sandbox_seed": (7, 8),
    "sandbox_home_region": ("eu-north-1", "sa-east-1"),
}


def _comparable(field: str, value: object) -> object:
    if field in ("cache_kind_ttls", "cache_kind_stale"):
        return dict(value)["spot_prices"]  # type: ignore[call-overload]
    return Path(value) if field == "cache_dir" else value  # type: ignore[arg-type]


@pytest.mark.parametrize("field", sorted(CASES))
def test_precedence_of_every_field(field: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """env beats the default, configure() beats env, an explicit argument beats both."""
    _, raw, _, _ = CASES[field]
    configured, explicit = LAYERS[field]
    for name in {n for f in CASES for n in env_names(f)}:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv(env_names(field)[0], raw)
    from_env = getattr(resolve_settings(), field)
    assert from_env != getattr(resolve_settings(environ={}), field)
    gn.configure(**{field: configured})
    assert _comparable(field, getattr(resolve_settings(), field)) == _comparable(
        field, configured)
    assert _comparable(field, getattr(resolve_settings(**{field: explicit}), field)) == (
        _comparable(field, explicit))


def test_every_field_has_a_case_and_env_names() -> None:
    fields = {f.name for f in dataclasses.fields(gn.Settings)}
    assert fields == set(CASES) == set(ENV_NAMES) == set(LAYERS)


@pytest.mark.parametrize("field", sorted(CASES))
def test_default(field: str) -> None:
    default = CASES[field][0]
    value = getattr(resolve_settings(environ={}), field)
    if field == "cache_dir":
        assert value == Path.home() / ".cache" / "geuse_nb"
    elif field == "cache_kind_ttls":
        assert dict(value) == {"regions": 86400.0, "availability_zones": 86400.0,
                               "instance_types": 3600.0, "spot_prices": 3600.0}
    elif field == "cache_kind_stale":
        assert dict(value) == {}
    else:
        assert value == default


@pytest.mark.parametrize("field", sorted(CASES))
def test_each_env_name_is_read(field: str) -> None:
    _, raw, parsed, _ = CASES[field]
    for name in env_names(field):
        value = getattr(resolve_settings(environ={name: raw}), field)
        if field == "cache_kind_ttls":
            assert value["spot_prices"] == 60.0 and value["regions"] == 86400.0
        elif field == "cache_kind_stale":
            assert dict(value) == {"spot_prices": 60.0}
        else:
            assert value == parsed, name


@pytest.mark.parametrize("field", sorted(f for f, case in CASES.items() if case[3] is not None))
def test_bad_env_value_names_variable_value_and_form(field: str) -> None:
    bad = CASES[field][3]  # aws_profile and sandbox_url are free-form: nothing is invalid
    name = env_names(field)[0]  # GEUSE_-prefixed: strict (a bare one is ignored instead)
    with pytest.raises(gn.ConfigError) as err:
        resolve_settings(environ={name: bad})
    text = str(err.value)
    assert name in text and repr(bad) in text and "expected" in text
    assert err.value.name == name and err.value.value == bad


def test_suite_names_and_geuse_prefix_wins() -> None:
    assert env_names("parallel_max_workers") == ("GEUSE_PARALLEL_MAX_WORKERS",
                                                 "PARALLEL_MAX_WORKERS")
    assert env_names("progress_quiet") == ("GEUSE_PROGRESS_QUIET_MODE", "PROGRESS_QUIET_MODE")
    env = {"PARALLEL_MAX_WORKERS": "5", "GEUSE_PARALLEL_MAX_WORKERS": "9"}
    assert resolve_settings(environ=env).parallel_max_workers == 9


def test_no_color_is_honoured_unless_set_explicitly() -> None:
    assert resolve_settings(environ={"NO_COLOR": "1"}).progress_no_color is True
    assert resolve_settings(environ={"NO_COLOR": ""}).progress_no_color is False
    env = {"NO_COLOR": "1", "PROGRESS_NO_COLOR": "0"}
    assert resolve_settings(environ=env).progress_no_color is False


def test_precedence_defaults_profile_env_configure_explicit(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GEUSE_CACHE_DIR", raising=False)
    assert resolve_settings(environ={}).pool_max_connections == 10
    env = {"GEUSE_TUNING_PROFILE": "high-volume"}
    assert resolve_settings(environ=env).pool_max_connections == 20  # profile over default
    env["POOL_MAX_CONNECTIONS"] = "30"
    assert resolve_settings(environ=env).pool_max_connections == 30  # env over profile
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    gn.configure(pool_max_connections=40)
    assert resolve_settings().pool_max_connections == 40  # configure over env
    assert resolve_settings(pool_max_connections=50).pool_max_connections == 50  # explicit


@pytest.mark.parametrize("profile,field,value", [
    ("high-volume", "parallel_max_workers", 50),
    ("high-volume", "cache_default_ttl", 3600.0),
    ("memory-constrained", "cache_memory_max_items", 128),
    ("network-limited", "pool_retry_mode", "adaptive"),
])
def test_tuning_profiles(profile: str, field: str, value: object) -> None:
    assert getattr(resolve_settings(environ={}, tuning_profile=profile), field) == value
    assert getattr(resolve_settings(environ={}).replace(tuning_profile=profile), field) == value


def test_settings_context_restores_and_configure_none_forgets() -> None:
    gn.configure(parallel_retry_count=7)
    with gn.settings_context(parallel_retry_count=1) as inside:
        assert inside.parallel_retry_count == 1
    assert resolve_settings().parallel_retry_count == 7
    gn.configure(parallel_retry_count=None)
    assert resolve_settings().parallel_retry_count == 3


def test_configure_rejects_bad_value_and_keeps_previous() -> None:
    gn.configure(parallel_retry_count=4)
    with pytest.raises(gn.ConfigError, match="parallel_retry_count"):
        gn.configure(parallel_retry_count=-1)
    assert resolve_settings().parallel_retry_count == 4


def test_unknown_setting_suggests_closest() -> None:
    with pytest.raises(gn.UsageError, match="did you mean 'parallel_max_workers'"):
        gn.configure(paralel_max_workers=3)


def test_settings_are_frozen_and_pickle() -> None:
    settings = resolve_settings(environ={"GEUSE_CACHE_KIND_TTLS": "regions=5"})
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.debug = True  # type: ignore[misc]
    with pytest.raises(TypeError):
        settings.cache_kind_ttls["regions"] = 1  # type: ignore[index]
    clone = pickle.loads(pickle.dumps(settings))
    assert clone == settings and clone.ttl_for("regions") == 5.0
    assert clone.ttl_for(None) == clone.ttl_for("unknown-kind") == 300.0


def test_readme_documents_every_setting_and_env_name() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    for field in CASES:
        assert f"`{field}`" in readme, field
        for name in env_names(field):
            assert f"`{name}`" in readme, name


# ---------------------------------------------------------------- one declaration per field


def _readme_settings_table() -> str:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    lines = section.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| setting |"))
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
    return "\n".join(lines[start:end]) + "\n"


def test_readme_settings_table_is_the_rendered_declarations() -> None:
    """README.md holds exactly the table the declarations render: no row can drift.
    Regenerate with: python -c 'from geuse_nb.config import settings_table as t; print(t())'"""
    rendered = settings_table()
    assert _readme_settings_table() == rendered
    rows = rendered.splitlines()[2:]
    assert [row.split(" | ")[0] for row in rows] == [
        f"| `{f.name}`" for f in dataclasses.fields(gn.Settings)]


def test_table_shows_kind_ttls_from_the_kinds_table() -> None:
    row = next(r for r in settings_table().splitlines() if r.startswith("| `cache_kind_ttls`"))
    assert "regions, availability_zones 24 h; instance_types, spot_prices 1 h" in row


@pytest.mark.parametrize("field", sorted(CASES))
def test_declared_default_parses_to_itself(field: str) -> None:
    """The declared parser accepts the declared default unchanged (they cannot disagree)."""
    value = getattr(resolve_settings(environ={}), field)
    assert FIELD_META[field].parse(field, value) == value
    assert FIELD_META[field].help.strip()


def test_env_names_are_unique_and_prefix_only_ones_are_not_read_bare() -> None:
    every = [name for field in FIELD_META for name in env_names(field)]
    assert len(every) == len(set(every))
    for field, meta in FIELD_META.items():
        names = env_names(field)
        assert names[0] == "GEUSE_" + meta.env[0]
        assert (meta.env[0] in names) is (not meta.prefix_only), field
        if meta.prefix_only:  # a generic bare name (BACKEND, SANDBOX_URL) is ignored
            good = CASES[field][1]
            assert getattr(resolve_settings(environ={meta.env[0]: good}), field) == (
                getattr(resolve_settings(environ={}), field))


# ---------------------------------------------------------------- cache kinds


@pytest.mark.parametrize("field", ["cache_kind_ttls", "cache_kind_stale"])
@pytest.mark.parametrize("given", ["spot_price=60", {"spot_price": 60}])
def test_unknown_cache_kind_suggests_closest(field: str, given: object) -> None:
    with pytest.raises(gn.ConfigError) as err:
        resolve_settings(environ={}, **{field: given})
    assert err.value.name == field and err.value.value == given
    assert "did you mean 'spot_prices'" in str(err.value)
    for kind in KIND_NAMES:
        assert kind in err.value.expected


def test_unknown_cache_kind_in_env_and_configure_is_refused() -> None:
    env = {"GEUSE_CACHE_KIND_TTLS": "regions=60,instance_type=5"}
    with pytest.raises(gn.ConfigError, match=r"GEUSE_CACHE_KIND_TTLS.*'instance_types'"):
        resolve_settings(environ=env)
    with pytest.raises(gn.ConfigError, match="did you mean 'regions'"):
        gn.configure(cache_kind_stale={"region": 5})
    assert resolve_settings(environ={}).cache_kind_stale == {}


def test_known_kinds_are_accepted_as_enum_or_name() -> None:
    from geuse_nb.kinds import Kind

    settings = resolve_settings(environ={}, cache_kind_ttls={Kind.REGIONS: 5, "spot_prices": 6})
    assert settings.ttl_for("regions") == 5.0 and settings.ttl_for(Kind.SPOT_PRICES) == 6.0


# ---------------------------------------------------------------- the debug setting

_PKG = logging.getLogger("geuse_nb")


@pytest.fixture()
def clean_debug() -> Iterator[None]:
    handlers, level = list(_PKG.handlers), _PKG.level
    yield
    debug_logging(False)
    _PKG.handlers[:] = handlers
    _PKG.setLevel(level)


def _ours() -> list[logging.Handler]:
    return [h for h in _PKG.handlers if not isinstance(h, logging.NullHandler)]


@pytest.mark.usefixtures("clean_debug")
def test_configure_debug_logs_to_stderr_and_turns_off(capsys: pytest.CaptureFixture[str]) -> None:
    child = logging.getLogger("geuse_nb.some.module")
    child.debug("before")
    gn.configure(debug=True)
    gn.configure(debug=True)  # idempotent: one handler
    assert _PKG.getEffectiveLevel() == logging.DEBUG and len(_ours()) == 1
    child.debug("while debugging %d", 42)
    gn.configure(debug=False)
    child.debug("after")
    err = capsys.readouterr().err
    assert "while debugging 42" in err and "geuse_nb.some.module" in err and "DEBUG" in err
    assert "before" not in err and "after" not in err
    assert _ours() == [] and _PKG.level == logging.NOTSET


@pytest.mark.usefixtures("clean_debug")
def test_debug_keeps_a_handler_of_its_own() -> None:
    mine = logging.StreamHandler()
    _PKG.addHandler(mine)
    gn.configure(debug=True)
    assert _ours() == [mine] and _PKG.level == logging.DEBUG


@pytest.mark.usefixtures("clean_debug")
def test_settings_context_and_reset_restore_debug() -> None:
    with gn.settings_context(debug=True):
        assert _PKG.level == logging.DEBUG
    assert _PKG.level == logging.NOTSET and _ours() == []
    gn.configure(debug=True)
    gn.reset_configuration()
    assert _PKG.level == logging.NOTSET and _ours() == []
    gn.configure(debug="yes")
    assert _PKG.level == logging.DEBUG
    gn.configure(debug=None)  # forgotten: off
    assert _PKG.level == logging.NOTSET and _ours() == []


@pytest.mark.usefixtures("clean_debug")
def test_a_kit_built_with_debug_turns_it_on(sandbox: Any, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    with gn.Kit("quiet", backend="sandbox", sandbox=sandbox, progress_quiet=True):
        assert _PKG.level == logging.NOTSET and _ours() == []
    monkeypatch.setenv("GEUSE_DEBUG", "1")
    with gn.Kit("loud", backend="sandbox", sandbox=sandbox, progress_quiet=True) as kit:
        assert _PKG.level == logging.DEBUG and len(_ours()) == 1
        kit.call("sts", "get_caller_identity")
    assert "geuse_nb." in capsys.readouterr().err  # the call path's own debug lines
