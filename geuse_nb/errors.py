"""One error hierarchy: every failure the kit raises is a ``GeuseError``.

Errors carry structured fields (what failed, where) and a one-line
``suggestion`` that says what to do next, so a notebook user reads a message,
not a traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any


def closest(name: str, choices: Iterable[str], n: int = 3) -> list[str]:
    """The valid names closest to ``name`` (case-insensitive), best first: every "did you
    mean" in the package comes from here."""
    by_lower: dict[str, str] = {}
    for choice in choices:
        by_lower.setdefault(str(choice).lower(), str(choice))
    hits = difflib.get_close_matches(str(name).lower(), list(by_lower), n=n, cutoff=0.5)
    return [by_lower[h] for h in hits]


def did_you_mean(name: str, choices: Iterable[str], n: int = 3) -> str:
    """``" (did you mean 'a', 'b'?)"`` or ``""``."""
    hits = closest(name, choices, n)
    return f" (did you mean {', '.join(repr(h) for h in hits)}?)" if hits else ""


class GeuseError(Exception):
    """Base class of every error geuse_nb raises."""

    suggestion: str = ""

    def __init__(self, message: str, *, suggestion: str = "") -> None:
        self.suggestion = suggestion or self.suggestion
        super().__init__(message)

    def __str__(self) -> str:
        text = super().__str__()
        return f"{text} — {self.suggestion}" if self.suggestion else text

    def __reduce__(self) -> tuple[Any, ...]:
        # Subclasses take keyword-only fields, so the default (cls(*args)) cannot
        # rebuild them; restore args and fields directly so errors cross processes.
        return (_restore, (type(self), self.args, self.__dict__))


def _restore(cls: type[GeuseError], args: tuple[Any, ...], state: dict[str, Any]) -> GeuseError:
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


class ConfigError(GeuseError, ValueError):
    """A setting has a bad value; names the setting, the value and the expected form."""

    def __init__(self, name: str, value: object, expected: str) -> None:
        self.name = name
        self.value = value
        self.expected = expected
        super().__init__(
            f"{name}={value!r} is not valid: expected {expected}",
            suggestion=f"fix or unset {name}",
        )


class UsageError(GeuseError, ValueError):
    """A caller passed bad input (unknown service, bad n_jobs, ...); nothing was sent."""


def unknown_region(region: object, served: Iterable[str], *, by: str,
                   listed_at: str) -> UsageError:
    """THE error for a region that is not served, whoever checks (the pool, the backend,
    the sandbox): it names the region, the closest served ones and where to see them all.

    ``by`` says who does not serve it ("the sandbox at http://…", "AWS for ec2");
    ``listed_at`` is where the user reads the list (``kit.sandbox.regions``).
    """
    names = sorted({str(n) for n in served})
    hint = did_you_mean(str(region), names)
    some = "" if hint or not names else f" (e.g. {', '.join(repr(n) for n in names[:3])})"
    return UsageError(
        f"region {region!r} is not served by {by}{hint}{some}",
        suggestion=f"pick one of the {len(names)} regions listed by {listed_at}",
    )


class MissingDependencyError(GeuseError, ImportError):
    """An optional dependency is not installed; says which extra brings it."""

    def __init__(self, package: str, extra: str) -> None:
        self.package = package
        self.extra = extra
        super().__init__(
            f"{package} is not installed",
            suggestion=f"pip install 'geuse_nb[{extra}]'",
        )


class SandboxError(GeuseError, RuntimeError):
    """The embedded AWS sandbox could not start, be reached or be controlled."""


class AwsCallError(GeuseError):
    """An AWS call failed; carries where it failed and what to do next."""

    def __init__(
        self,
        message: str,
        *,
        service: str,
        operation: str,
        region: str | None,
        error_code: str | None = None,
        suggestion: str = "",
        retryable: bool = False,
    ) -> None:
        self.service = service
        self.operation = operation
        self.region = region
        self.error_code = error_code
        self.retryable = retryable
        where = f"{service}.{operation} in {region or 'default region'}"
        code = f" [{error_code}]" if error_code else ""
        super().__init__(f"{where}{code}: {message}", suggestion=suggestion)


class JobError(GeuseError, RuntimeError):
    """One or more parallel jobs failed; ``failures`` maps job key to its exception."""

    def __init__(self, failures: dict[object, BaseException]) -> None:
        self.failures = failures
        first_key, first = next(iter(failures.items()))
        more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
        super().__init__(
            f"{len(failures)} job(s) failed; first {first_key!r}: {first}{more}",
            suggestion="see JobResults.frame() for every job's error and suggestion",
        )
