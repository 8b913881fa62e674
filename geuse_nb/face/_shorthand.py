"""The AWS CLI's *shorthand* syntax: ``Name=tag:env,Values=prod,dev``, ``a=[x,y]``, ``c={d=2}``.

The CLI's rules: ``key=value`` pairs separated by commas; ``[...]`` is a list and ``{...}`` a
nested structure; a quoted value ('…' or "…") may hold commas; and a bare value after a
comma (no ``key=`` ahead) continues the previous key's value as a list, which is how
``Values=prod,dev`` becomes two values. Every value comes out as a string: the caller
(``_awsargs.convert``) gives it its type from the operation's shape.
"""

from __future__ import annotations

from typing import Any

from ..errors import UsageError

_SPECIAL = ",=[]{}"


class _Shorthand:
    """A recursive-descent parser for the CLI's shorthand (``a=1,b=[x,y],c={d=2}``)."""

    def __init__(self, text: str, option: str) -> None:
        self.text, self.pos, self.option = text, 0, option

    def fail(self, what: str) -> UsageError:
        return UsageError(f"{self.option}: bad shorthand {self.text!r} at character "
                          f"{self.pos}: {what}",
                          suggestion="write Key=value,Other=a,b (or JSON in quotes)")

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def struct(self, closing: str = "") -> dict[str, Any]:
        out: dict[str, Any] = {}
        while True:
            key = self.word("=").strip()
            if not key:
                raise self.fail("expected a key")
            if self.peek() != "=":
                raise self.fail(f"expected '=' after {key!r}")
            self.pos += 1
            if key in out:
                raise self.fail(f"key {key!r} given twice")
            out[key] = self.value(closing)
            if self.peek() == closing or not self.peek():
                return out
            if self.peek() != ",":
                raise self.fail(f"unexpected {self.peek()!r}")
            self.pos += 1
            # A bare value after a comma (no "key=") continues the previous key's list.
            while not self._key_ahead(closing):
                if not self.peek() or self.peek() == closing:
                    raise self.fail("a trailing comma")
                prev = out[key]
                out[key] = [*prev, self.scalar(closing)] if isinstance(prev, list) else [
                    prev, self.scalar(closing)]
                if self.peek() == closing or not self.peek():
                    return out
                if self.peek() != ",":
                    raise self.fail(f"unexpected {self.peek()!r}")
                self.pos += 1

    def _key_ahead(self, closing: str) -> bool:
        i = self.pos
        while i < len(self.text) and self.text[i] not in _SPECIAL + "'\"":
            i += 1
        return i < len(self.text) and self.text[i] == "=" and i > self.pos

    def value(self, closing: str) -> Any:
        char = self.peek()
        if char == "[":
            self.pos += 1
            items: list[Any] = []
            while self.peek() != "]":
                if not self.peek():
                    raise self.fail("unclosed '['")
                items.append(self.value("]"))
                if self.peek() == ",":
                    self.pos += 1
            self.pos += 1
            return items
        if char == "{":
            self.pos += 1
            inner = {} if self.peek() == "}" else self.struct("}")
            if self.peek() != "}":
                raise self.fail("unclosed '{'")
            self.pos += 1
            return inner
        return self.scalar(closing)

    def scalar(self, closing: str) -> str:
        char = self.peek()
        if char in ("'", '"'):
            end = self.text.find(char, self.pos + 1)
            if end < 0:
                raise self.fail(f"unclosed {char}")
            text = self.text[self.pos + 1:end]
            self.pos = end + 1
            return text
        stops = ",]}" if closing else ","
        return self.word(stops)

    def word(self, stops: str) -> str:
        start = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in stops:
            self.pos += 1
        return self.text[start:self.pos]


def parse_shorthand(text: str, option: str = "value") -> dict[str, Any]:
    """The CLI's shorthand → nested dicts/lists of strings (types come from the shape)."""
    parser = _Shorthand(text, option)
    out = parser.struct()
    if parser.pos != len(text):
        raise parser.fail("unexpected text at the end")
    return out
