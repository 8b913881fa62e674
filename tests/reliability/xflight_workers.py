"""Child processes of ``test_xprocess_flight.py`` (importable by name for ``spawn``)."""

from __future__ import annotations

import os
import threading
from typing import Any

OPERATION = ("ec2", "describe_availability_zones")


def miss_together(url: str, cache_dir: str, region: str, threads: int, start: Any,
                  out: Any) -> None:
    """``threads`` threads of one kit on ``cache_dir`` miss one key at the moment every
    process passes ``start`` (a Barrier); puts what this process saw on ``out`` (or the
    error that stopped it: the test must not wait for a result that never comes)."""
    try:
        out.put(_miss_together(url, cache_dir, region, threads, start))
    except BaseException as exc:
        start.abort()
        out.put({"pid": os.getpid(), "answers": [], "errors": [repr(exc)], "sent": 0,
                 "waited": 0})
        raise


def _miss_together(url: str, cache_dir: str, region: str, threads: int,
                   start: Any) -> dict[str, Any]:
    os.environ["GEUSE_PROGRESS_QUIET_MODE"] = "1"
    import geuse_nb as gn

    answers: list[str] = []
    errors: list[str] = []
    lock = threading.Lock()
    with gn.Kit("xflight", backend="sandbox", sandbox_url=url, cache_dir=cache_dir) as kit:
        assert kit.cache.xflight is not None
        inner = threading.Barrier(threads)

        def one() -> None:
            inner.wait()
            try:
                zones = kit.call(*OPERATION, region)["AvailabilityZones"]
                with lock:
                    answers.append(",".join(sorted(z["ZoneName"] for z in zones)))
            except Exception as exc:  # returned: the test asserts there is none
                with lock:
                    errors.append(f"{type(exc).__name__}: {exc}")

        workers = [threading.Thread(target=one) for _ in range(threads)]
        start.wait(timeout=120)
        for t in workers:
            t.start()
        for t in workers:
            t.join()
        calls = kit.metrics.frame("api_calls")
        return {"pid": os.getpid(), "answers": answers, "errors": errors,
                "sent": int((~calls["cache_hit"]).sum()),
                "waited": kit.cache.xflight.waited}


def hold_forever(url: str, cache_dir: str, region: str, expire: float) -> None:
    """Take the key's lock (with ``expire``) and send the request; the test kills this
    process while the request is in flight."""
    os.environ["GEUSE_PROGRESS_QUIET_MODE"] = "1"
    import geuse_nb as gn

    with gn.Kit("xflight-holder", backend="sandbox", sandbox_url=url,
                cache_dir=cache_dir) as kit:
        kit.cache.xflight.expire = expire
        kit.call(*OPERATION, region)
