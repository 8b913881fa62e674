"""Functions the reliability suite runs in child processes (importable by name)."""

from __future__ import annotations

import threading
from typing import Any


def shared_dir_worker(url: str, cache_dir: str, regions: list[str], rounds: int) -> dict[str, Any]:
    """4 threads × ``rounds`` passes over ``regions`` through one kit on ``cache_dir``;
    returns what this process saw (rows recorded, errors, answers per region)."""
    import os

    os.environ["GEUSE_PROGRESS_QUIET_MODE"] = "1"
    import geuse_nb as gn

    errors: list[str] = []
    answers: dict[str, set[str]] = {r: set() for r in regions}
    lock = threading.Lock()
    with gn.Kit("shared-dir", backend="sandbox", sandbox_url=url, cache_dir=cache_dir,
                cache_memory_max_items=0) as kit:
        def work() -> None:
            for _ in range(rounds):
                for region in regions:
                    try:
                        zones = kit.call("ec2", "describe_availability_zones", region)
                        names = ",".join(sorted(z["ZoneName"] for z in zones["AvailabilityZones"]))
                        with lock:
                            answers[region].add(names)
                    except Exception as exc:  # counted and returned: the test asserts none
                        with lock:
                            errors.append(f"{type(exc).__name__}: {exc}")

        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        calls = kit.metrics.frame("api_calls")
        return {"rows": int((calls["cache_hit"]).sum() + (calls["http_status"] == 200).sum()),
                "sent": int((~calls["cache_hit"]).sum()), "errors": errors,
                "answers": {r: sorted(v) for r, v in answers.items()}}
