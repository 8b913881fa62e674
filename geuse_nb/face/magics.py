"""IPython magics: ``%geuse``, ``%aws`` and ``%%timed`` (loaded by ``%load_ext geuse_nb``)."""

from __future__ import annotations

from typing import Any

from IPython.core.magic import Magics, magics_class


@magics_class
class GeuseMagics(Magics):
    """geuse_nb's magics (being filled in)."""


def load(ipython: Any) -> None:
    """Register the magics class on ``ipython``."""
    ipython.register_magics(GeuseMagics)
