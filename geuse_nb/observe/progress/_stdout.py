"""User ``print``s above the terminal's live lines, as ``tqdm.write`` does, without asking
the user to call anything.

While the terminal front end has something live (a bar, a table redrawn in place, a
spinner), ``sys.stdout`` is a :class:`LiveStdout`: whole lines written to it are handed
to the front end, which clears its live lines, writes them, and draws the live lines
again below (``TerminalRenderer.print_above``). It is installed when the first live
thing starts and ``sys.stdout`` is a terminal (a redirected stdout cannot collide with
the drawing), and put back when the last one ends.

Choices:

- Lines are buffered per thread until their newline: ``print("a", "b")`` is four writes
  (``"a"``, ``" "``, ``"b"``, ``"\\n"``), and two jobs printing at once would otherwise
  interleave mid-line. A line is written whole, under the front end's lock.
- A partial line left at the end (``print(..., end="")``) is written when the proxy is
  taken down; ``flush()`` alone does not push it under the live lines.
- A proxy that is no longer installed writes straight through (someone may still hold
  it: ``contextlib.redirect_stdout`` entered during the render puts it back afterwards).
- Output of child processes (a ``processes`` backend's workers) goes to the terminal
  directly, not through here.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import IO, Any

__all__ = ["LiveStdout", "live_ended", "live_started"]

PrintAbove = Callable[[str, IO[str]], None]  # (whole lines, the real stdout)
Route = Callable[[str], bool]  # False: nobody is live, write it straight through


class LiveStdout:
    """``sys.stdout`` while something is live: whole lines go through ``print_above``."""

    def __init__(self, original: IO[str], route: Route) -> None:
        self.original = original
        self.route = route
        self.active = True
        self._local = threading.local()
        self._pending_lock = threading.Lock()
        self._pending: list[list[str]] = []  # every thread's buffer, to flush at the end

    def _buffer(self) -> list[str]:
        try:
            return self._local.buf
        except AttributeError:
            buf: list[str] = []
            self._local.buf = buf
            with self._pending_lock:
                self._pending.append(buf)
            return buf

    def write(self, text: str) -> int:
        if not self.active:
            return self.original.write(text)
        buf = self._buffer()
        buf.append(text)
        if "\n" in text:
            joined = "".join(buf)
            cut = joined.rfind("\n") + 1
            buf[:] = [joined[cut:]] if cut < len(joined) else []
            if not self.route(joined[:cut]):
                self.original.write(joined[:cut])
                self.original.flush()
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self.original.flush()

    def finish(self) -> None:
        """Stop routing; write what is left of unfinished lines."""
        self.active = False
        with self._pending_lock:
            left = "".join("".join(buf) for buf in self._pending)
            self._pending.clear()
        if left:
            self.original.write(left)
            self.original.flush()

    def __getattr__(self, name: str) -> Any:  # fileno, isatty, encoding, buffer, ...
        return getattr(self.original, name)


_lock = threading.Lock()
_owners: list[PrintAbove] = []  # front ends with something live, most recent last
_proxy: LiveStdout | None = None


def _route(text: str) -> bool:
    with _lock:
        owner = _owners[-1] if _owners else None
    if owner is None:  # the last live thing ended while this line was on its way
        return False
    proxy = _proxy
    if proxy is None:
        return False
    owner(text, proxy.original)
    return True


def live_started(print_above: PrintAbove) -> None:
    """A front end has something live: route ``sys.stdout`` through it (if a terminal)."""
    global _proxy
    with _lock:
        if print_above not in _owners:
            _owners.append(print_above)
        if _proxy is None:
            stdout = sys.stdout
            try:
                tty = stdout is not None and stdout.isatty()
            except (AttributeError, ValueError, OSError):
                tty = False
            if tty:
                _proxy = LiveStdout(stdout, _route)
                sys.stdout = _proxy


def live_ended(print_above: PrintAbove) -> None:
    """That front end has nothing live any more; the last one puts ``sys.stdout`` back."""
    global _proxy
    with _lock:
        if print_above in _owners:
            _owners.remove(print_above)
        if _owners or _proxy is None:
            return
        proxy, _proxy = _proxy, None
        if sys.stdout is proxy:
            sys.stdout = proxy.original
    proxy.finish()
