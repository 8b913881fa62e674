"""The ``debug`` setting's effect: DEBUG logging of the ``geuse_nb`` logger.

A library leaves logging to the application (the package logger has a
``NullHandler``); ``debug`` is the one exception the user asks for, so it adds a
handler only when the logger has none of its own, and takes it away again.
"""

from __future__ import annotations

import logging
import sys

__all__ = ["debug_logging"]


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a record arrives: a notebook kernel and
    pytest replace it after import."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def debug_logging(on: bool) -> None:
    """Turn DEBUG logging of the ``geuse_nb`` logger on or off (the ``debug`` setting).

    On: level DEBUG, and a stderr handler unless the logger has a handler of its own
    (the package's ``NullHandler`` does not count). Off: that handler removed and the
    level back to NOTSET (inherit). Idempotent; logging is per process, so a kit built
    with ``debug=True`` turns it on and only ``configure(debug=False)`` turns it off.
    """
    logger = logging.getLogger("geuse_nb")
    ours = [h for h in logger.handlers if isinstance(h, _StderrHandler)]
    if on:
        logger.setLevel(logging.DEBUG)
        theirs = [h for h in logger.handlers
                  if not isinstance(h, logging.NullHandler | _StderrHandler)]
        if not ours and not theirs:
            handler = _StderrHandler(sys.stderr)
            handler.setFormatter(logging.Formatter(
                "%(asctime)s %(levelname)s %(name)s: %(message)s"))
            logger.addHandler(handler)
        return
    for handler in ours:
        logger.removeHandler(handler)
    if logger.level == logging.DEBUG:
        logger.setLevel(logging.NOTSET)
