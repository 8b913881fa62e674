"""PLACEHOLDER (replaced by the metrics work): resource sampler with the final API."""

from __future__ import annotations

from typing import Any


class ResourceSampler:
    def __init__(self, recorder: Any, interval: float) -> None:
        self.recorder = recorder
        self.interval = interval

    def start(self) -> None:
        return None

    def close(self) -> None:
        return None
