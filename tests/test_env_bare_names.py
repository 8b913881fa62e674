"""Bare (seed-style) environment names are read when their value parses, ignored when it
does not (another tool's variable, e.g. ``DEBUG=express:*``); ``GEUSE_`` names stay strict."""

from __future__ import annotations

import logging

import pytest

import geuse_nb as gn
from geuse_nb.config import FIELD_META, env_names, resolve_settings


def test_debug_set_by_a_node_tool_does_not_stop_init(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEBUG", "express:*")
    monkeypatch.delenv("GEUSE_DEBUG", raising=False)
    with gn.init("bare", backend="sandbox") as kit:
        assert kit.settings.debug is False


def test_bare_debug_that_parses_turns_debug_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEBUG", "1")
    monkeypatch.delenv("GEUSE_DEBUG", raising=False)
    assert resolve_settings().debug is True


def test_prefixed_names_stay_strict(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEUSE_DEBUG", "express")
    with pytest.raises(gn.ConfigError) as err:
        gn.init("strict", backend="sandbox")
    assert err.value.name == "GEUSE_DEBUG" and err.value.value == "express"


def test_every_bare_name_with_a_foreign_value_is_ignored() -> None:
    bad = {"CACHE_DIR": "", "PARALLEL_MAX_WORKERS": "lots", "POOL_RETRY_MODE": "yolo",
           "CACHE_DEFAULT_TTL": "-1", "METRICS_MAX_ROWS": "x", "DEBUG": "app:*"}
    assert resolve_settings(environ=bad) == resolve_settings(environ={})
    for name, value in bad.items():  # the same values under the prefix are refused
        with pytest.raises(gn.ConfigError):
            resolve_settings(environ={"GEUSE_" + name: value})


def test_a_foreign_bare_value_does_not_hide_a_good_prefixed_one() -> None:
    env = {"PARALLEL_MAX_WORKERS": "lots", "GEUSE_PARALLEL_MAX_WORKERS": "7"}
    assert resolve_settings(environ=env).parallel_max_workers == 7
    assert resolve_settings(environ={"PARALLEL_MAX_WORKERS": "5"}).parallel_max_workers == 5


def test_ignoring_logs_one_debug_line_per_name_and_value(
        caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="geuse_nb.config"):
        for _ in range(3):
            resolve_settings(environ={"DEBUG": "worker:q1-once"})
    lines = [r for r in caplog.records if "worker:q1-once" in r.getMessage()]
    assert len(lines) == 1 and lines[0].levelno == logging.DEBUG
    assert "DEBUG" in lines[0].getMessage() and "GEUSE_DEBUG" in lines[0].getMessage()


def test_only_non_prefix_fields_have_bare_names() -> None:
    for field, meta in FIELD_META.items():
        bare = [n for n in env_names(field) if not n.startswith("GEUSE_")]
        assert bare == ([] if meta.prefix_only else list(meta.env)), field
