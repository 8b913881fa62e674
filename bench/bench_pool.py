"""Pooled clients vs new ones, side by side in one run.

1. Client acquisition: p50 of ``pool.client()`` vs a new ``boto3.Session()`` + client
   (target ratio ≥ 1000×).
2. Connection reuse at 30 ms RTT: 16 threads × 25 calls per region in 4 regions through
   the pool vs a new client per call, counted by the sandbox (target ≥ 95 % vs ~0 %), and
   no "Connection pool is full" warning from urllib3.
3. Recording-hook overhead per call: the same call answered locally (no network) through a
   plain client, a pooled client with recording off, and with recording on
   (target < 50 µs).

Run alone: ``.venv/bin/python -m bench.bench_pool``.
"""

from __future__ import annotations

import logging
import statistics
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

REGIONS = ("us-east-1", "eu-west-1", "us-west-2", "ap-southeast-1")
THREADS = 16
CALLS_PER_REGION = 25  # per thread
BASELINE_CALLS_PER_REGION = 3  # per thread: a new client per call is slow, so fewer
RTT = 0.030


class _PoolFullCounter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "pool is full" in record.getMessage():
            self.count += 1


def _p50_ns(fn: Callable[[], Any], n: int) -> float:
    samples = []
    clock = time.perf_counter_ns
    for _ in range(n):
        start = clock()
        fn()
        samples.append(clock() - start)
    return statistics.median(samples)


def _pool(box: Any, **overrides: Any) -> Any:
    from geuse_nb.aws.backend import Backend
    from geuse_nb.aws.pool import ClientPool
    from geuse_nb.config import resolve_settings
    from geuse_nb.observe.metrics import Recorder

    settings = resolve_settings(backend="sandbox", **overrides)
    backend = Backend(kind="sandbox", sandbox_url=box.url,
                      endpoints={r: box.endpoint_url(r) for r in box.regions})
    return ClientPool(settings, backend, recorder=Recorder(settings))


def bench_acquisition(box: Any) -> dict[str, float]:
    import boto3

    pool = _pool(box)
    try:
        pool.client("ec2", "eu-west-1")
        pooled = _p50_ns(lambda: pool.client("ec2", "eu-west-1"), 20_000)
        kwargs = pool.backend.session_kwargs()
        url = box.endpoint_url("eu-west-1")
        shared = boto3.Session(**kwargs)
        from_session = _p50_ns(
            lambda: shared.client("ec2", region_name="eu-west-1", endpoint_url=url), 15)
        fresh = _p50_ns(lambda: boto3.Session(**kwargs).client(
            "ec2", region_name="eu-west-1", endpoint_url=url), 15)
    finally:
        pool.close()
    ratio = fresh / pooled
    print("client acquisition (p50)")
    print(f"  pooled client()                 {pooled / 1e3:12.2f} µs")
    print(f"  client from an existing Session {from_session / 1e6:12.2f} ms")
    print(f"  new Session + client            {fresh / 1e6:12.2f} ms")
    print(f"  ratio new/pooled                {ratio:12,.0f} ×  (target ≥ 1000: "
          f"{'ok' if ratio >= 1000 else 'MISSED'})")
    return {"acquire_pooled_p50_us": pooled / 1e3, "acquire_session_client_p50_ms":
            from_session / 1e6, "acquire_new_session_p50_ms": fresh / 1e6,
            "acquire_ratio": ratio}


def _run_threads(box: Any, regions: list[str], per_region: int,
                 call: Callable[[str], Any]) -> dict[str, float]:
    req0 = sum(box.requests(r) for r in regions)
    conn0 = sum(box.connections(r) for r in regions)
    work = [r for _ in range(per_region) for r in regions]
    start = time.perf_counter()
    barrier = threading.Barrier(THREADS)

    def worker(_: int) -> None:
        barrier.wait()
        for region in work:
            call(region)

    with ThreadPoolExecutor(THREADS) as ex:
        list(ex.map(worker, range(THREADS)))
    seconds = time.perf_counter() - start
    requests = sum(box.requests(r) for r in regions) - req0
    connections = sum(box.connections(r) for r in regions) - conn0
    return {"requests": requests, "connections": connections, "seconds": seconds,
            "reuse": 1 - connections / requests if requests else float("nan"),
            "ms_per_call": seconds / requests * 1e3 * THREADS if requests else float("nan")}


def bench_reuse(box: Any) -> dict[str, float]:
    import boto3

    regions = [r for r in REGIONS if r in box.regions]
    pool = _pool(box)
    full = _PoolFullCounter()
    logging.getLogger("urllib3").addHandler(full)
    try:
        for region in regions:  # warm the sandbox's region backends and the clients
            pool.client("ec2", region).describe_availability_zones()
        box.set_network(rtt=RTT)
        pooled = _run_threads(box, regions, CALLS_PER_REGION,
                              lambda r: pool.client("ec2", r).describe_availability_zones())
        session = boto3.Session(**pool.backend.session_kwargs())
        lock = threading.Lock()

        def new_client(region: str) -> None:
            with lock:  # a Session is not thread-safe: create clients under a lock
                client = session.client("ec2", region_name=region,
                                        endpoint_url=box.endpoint_url(region))
            client.describe_availability_zones()
            client.close()

        fresh = _run_threads(box, regions, BASELINE_CALLS_PER_REGION, new_client)
    finally:
        box.set_network(rtt=0.0)
        logging.getLogger("urllib3").removeHandler(full)
        pool.close()
    print(f"\nconnection reuse at RTT {RTT * 1e3:.0f} ms, {THREADS} threads, "
          f"{len(regions)} regions")
    print(f"  {'':24}{'requests':>10}{'conns':>8}{'reuse':>9}{'wall s':>9}{'ms/call':>9}")
    for name, r in (("pooled clients", pooled), ("new client per call", fresh)):
        print(f"  {name:24}{r['requests']:>10.0f}{r['connections']:>8.0f}"
              f"{r['reuse']:>9.1%}{r['seconds']:>9.2f}{r['ms_per_call']:>9.1f}")
    speedup = fresh["ms_per_call"] / pooled["ms_per_call"]
    print(f"  pooled reuse target ≥ 95 %: {'ok' if pooled['reuse'] >= 0.95 else 'MISSED'}; "
          f"'Connection pool is full' warnings: {full.count}; "
          f"per-call latency new/pooled {speedup:.2f} ×")
    return {"reuse_pooled": pooled["reuse"], "reuse_new_client": fresh["reuse"],
            "pooled_requests": pooled["requests"], "pooled_connections": pooled["connections"],
            "pool_full_warnings": full.count, "ms_per_call_pooled": pooled["ms_per_call"],
            "ms_per_call_new_client": fresh["ms_per_call"], "latency_ratio": speedup}


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, *_: Any, **__: Any) -> Any:
        yield self._body


_STS_BODY = (b'<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
             b"<GetCallerIdentityResult><Arn>arn:aws:iam::123456789012:user/b</Arn>"
             b"<UserId>AIDA</UserId><Account>123456789012</Account>"
             b"</GetCallerIdentityResult><ResponseMetadata><RequestId>r</RequestId>"
             b"</ResponseMetadata></GetCallerIdentityResponse>")


def _answer_locally(client: Any) -> None:
    """Answer every request from memory, so only client-side work is timed."""
    from botocore.awsrequest import AWSResponse

    def respond(request: Any, **_: Any) -> AWSResponse:
        return AWSResponse(request.url, 200, {}, _Raw(_STS_BODY))

    client.meta.events.register_last("before-send", respond)


def bench_hooks(box: Any) -> dict[str, float]:
    import boto3

    from geuse_nb.observe.metrics import recording_disabled

    pool = _pool(box)
    try:
        pooled = pool.client("sts", "eu-west-1")
        plain = boto3.Session(**pool.backend.session_kwargs()).client(
            "sts", region_name="eu-west-1", endpoint_url=box.endpoint_url("eu-west-1"),
            config=pooled.meta.config)
        direct = _direct_hook_cost(pooled, plain)
        for client in (pooled, plain):
            _answer_locally(client)
            for _ in range(200):
                client.get_caller_identity()  # warm
        recorder = pool.recorder
        batches: dict[str, list[float]] = {"plain": [], "off": [], "on": []}
        n = 200
        for _ in range(25):  # alternate so load drift hits all three alike
            recorder.reset()
            for name in batches:
                client = plain if name == "plain" else pooled
                start = time.perf_counter()
                if name == "off":
                    with recording_disabled(recorder):
                        for _ in range(n):
                            client.get_caller_identity()
                else:
                    for _ in range(n):
                        client.get_caller_identity()
                batches[name].append((time.perf_counter() - start) / n * 1e6)
        rows = len(recorder.rows("api_calls"))
        med = {k: statistics.median(v) for k, v in batches.items()}
    finally:
        pool.close()
    overhead = med["on"] - med["plain"]
    print("\nrecording hooks (calls answered in memory, median of 25 × 200 calls)")
    print(f"  plain client              {med['plain']:9.1f} µs/call")
    print(f"  pooled, recording off     {med['off']:9.1f} µs/call")
    print(f"  pooled, recording on      {med['on']:9.1f} µs/call")
    print(f"  (api_calls rows written in the last round: {rows}, expected {n})")
    print(f"  end-to-end overhead (on−plain) {overhead:9.1f} µs/call (noisy on a busy machine)")
    print(f"  the hooks alone, per attempt   {direct:9.1f} µs  (target < 50: "
          f"{'ok' if direct < 50 else 'MISSED'})")
    return {"call_plain_us": med["plain"], "call_recording_off_us": med["off"],
            "call_recording_on_us": med["on"], "hook_overhead_us": overhead,
            "hook_direct_us": direct}


def _direct_hook_cost(pooled: Any, plain: Any) -> float:
    """µs the pool's two hooks add to one HTTP attempt: the same two botocore events
    emitted on a pooled client and on a plain one, median of batches, difference."""
    from botocore.awsrequest import AWSPreparedRequest

    send = "before-send.sts.GetCallerIdentity"
    received = "response-received.sts.GetCallerIdentity"
    parsed = {"Account": "1", "ResponseMetadata": {"HTTPStatusCode": 200}}
    response = {"status_code": 200, "headers": {}, "body": b""}

    def batch(client: Any, n: int = 2000) -> float:
        emit = client.meta.events.emit
        context: dict[str, Any] = {"retries": {"attempt": 1}}
        request = AWSPreparedRequest("POST", "http://x", {}, b"", False, context)
        start = time.perf_counter()
        for _ in range(n):
            emit(send, request=request)
            emit(received, response_dict=response, parsed_response=parsed, context=context,
                 exception=None)
        return (time.perf_counter() - start) / n * 1e6

    with_hooks, without = [], []
    for _ in range(25):
        with_hooks.append(batch(pooled))
        without.append(batch(plain))
    return statistics.median(with_hooks) - statistics.median(without)


def main() -> dict[str, float]:
    from geuse_nb.sandbox import Sandbox

    results: dict[str, float] = {}
    with Sandbox(seed=7, rtt=0.0) as box:
        results.update(bench_acquisition(box))
        results.update(bench_reuse(box))
        results.update(bench_hooks(box))
    return results


if __name__ == "__main__":
    main()
