"""Masking what identifies an AWS account in text meant to be shared: ``redact(text)``.

Used by ``kit.report(redact=True)`` and ``geuse-nb report --redact`` on the final page
(HTML, Markdown or JSON text), so every section, a runbook's own included, is covered
by one pass. Masked:

- access key ids (``AKIA``/``ASIA``/… + 16 characters): the 4-letter prefix stays (it
  says long-term vs temporary), the rest becomes ``*``;
- ARNs: partition, service and region stay, the account and the resource become ``*``
  (``arn:aws:cloudformation:eu-west-1:************:*``);
- account ids: any standalone 12-digit number (the same number elsewhere in a page is
  very likely the account; a 12-digit byte count would be masked too, which is the safe
  side).

Secret access keys never reach a report (nothing records them); the test suite's canary
scan (``tests/reliability/test_secrets.py``) checks that. One pass over a 0.3 MB report
costs ~3 ms.
"""

from __future__ import annotations

import re

__all__ = ["redact"]

_KEY_PREFIXES = "AKIA|ASIA|AIDA|AROA|AIPA|ANPA|ANVA|AGPA|APKA|ABIA|ACCA"
_ACCESS_KEY = re.compile(rf"\b({_KEY_PREFIXES})[A-Z0-9]{{16}}\b")
_ARN = re.compile(r"\barn:(aws[a-z-]*):([a-z0-9-]+):([a-z0-9-]*):(\d{12})?:[^\s\"'<>,;)\]}]+")
_ACCOUNT = re.compile(r"(?<![\d.])\d{12}(?![\d.])")


def redact(text: str) -> str:
    """``text`` with access key ids, ARNs and 12-digit account ids masked."""
    text = _ACCESS_KEY.sub(lambda m: m.group(1) + "*" * 16, text)
    text = _ARN.sub(lambda m: f"arn:{m.group(1)}:{m.group(2)}:{m.group(3)}:"
                              f"{'*' * 12 if m.group(4) else ''}:*", text)
    return _ACCOUNT.sub("*" * 12, text)
