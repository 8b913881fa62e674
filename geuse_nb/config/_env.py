"""Where settings come from in the environment; private to ``geuse_nb.config``.

Each setting is read as ``GEUSE_<NAME>`` and, unless its declaration says
``prefix_only``, as the bash suite's bare ``<NAME>``; the prefixed name wins. A
``GEUSE_`` name is ours alone, so its value is parsed strictly later (``ConfigError``).
A bare name is shared with every other tool in the user's shell: it is read only when
its value parses (``DEBUG=1``); otherwise (``DEBUG=express:*``, the ``debug`` npm
package's syntax) it is someone else's and is ignored, with one DEBUG line in the log
per name and value (settings are resolved at every ``configure()`` and kit).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any

from ..errors import ConfigError

log = logging.getLogger(__name__)
_lock = threading.Lock()
_ignored: set[tuple[str, str]] = set()  # (bare name, value) already logged as someone else's


def names(meta: Any) -> tuple[str, ...]:
    """A declaration's (``config.Meta``) environment names, strongest first."""
    prefixed = tuple(f"GEUSE_{n}" for n in meta.env)
    return prefixed if meta.prefix_only else prefixed + tuple(meta.env)


def _theirs(field: str, meta: Any, name: str, raw: str) -> bool:
    """Whether a bare name's value does not parse as ``field``: another tool's variable."""
    if name.startswith("GEUSE_"):
        return False
    try:
        meta.parse(name, raw)
    except ConfigError as exc:
        with _lock:
            first = (name, raw) not in _ignored
            _ignored.add((name, raw))
        if first:
            log.debug("ignoring %s=%r: not a value of setting %s (%s); set GEUSE_%s to "
                      "configure it", name, raw, field, exc.expected, name)
        return True
    return False


def read(environ: Mapping[str, str], field_meta: Mapping[str, Any]) -> dict[str, tuple[str, Any]]:
    """``{field: (variable name, raw value)}`` for every setting the environment gives."""
    found: dict[str, tuple[str, Any]] = {}
    for field, meta in field_meta.items():
        for name in names(meta):
            if name in environ and not _theirs(field, meta, name, environ[name]):
                found[field] = (name, environ[name])
                break
        else:
            flag = next((n for n in meta.flag_env if environ.get(n)), None)
            if flag:
                found[field] = (flag, True)
    return found
