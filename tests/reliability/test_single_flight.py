"""Single-flight: concurrent identical cache misses make one request; the others wait for
it and share its result or its error. The sandbox's request counter is the proof."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from reliability_figures import add_figure

from geuse_nb.cache.flight import SingleFlight
from geuse_nb.errors import AwsCallError

THREADS = 16
REGION = "eu-west-1"


def _together(n: int, fn: Callable[[], Any]) -> list[Any]:
    """Run ``fn`` in ``n`` threads released at once; each one's value or exception."""
    barrier = threading.Barrier(n)
    out: list[Any] = [None] * n

    def one(i: int) -> None:
        barrier.wait()
        try:
            out[i] = fn()
        except Exception as exc:  # the error is the result under test
            out[i] = exc

    threads = [threading.Thread(target=one, args=(i,), name=f"test-flight-{i}")
               for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def _requests(box: Any, operation: str) -> int:
    frame = box.counters_frame()
    return int(frame.loc[(frame["operation"] == operation) & (frame["region"] == REGION),
                         "requests"].sum())


def test_sixteen_threads_one_key_one_request(kit: Any, box: Any) -> None:
    box.set_network(rtt=0.05, region=REGION)  # the request is in flight long enough
    got = _together(THREADS, lambda: kit.call("ec2", "describe_availability_zones", REGION))
    assert _requests(box, "DescribeAvailabilityZones") == 1
    assert all(g is got[0] for g in got) and got[0]["AvailabilityZones"]
    calls = kit.metrics.frame("api_calls")
    calls = calls[calls["operation"] == "describe_availability_zones"]
    assert (~calls["cache_hit"]).sum() == 1 and calls["cache_hit"].sum() == THREADS - 1
    shared = kit.metrics.counter("cache.flight_shared")
    assert 1 <= shared <= THREADS - 1  # a thread that came late found the stored value
    add_figure("calls_made", THREADS)
    add_figure("duplicated_requests", _requests(box, "DescribeAvailabilityZones") - 1)


def test_sixteen_threads_share_one_error(box: Any, sandbox: Any) -> None:
    import geuse_nb as gn

    # An error is not stored: a thread that reaches the flight after it ended makes a new
    # request (rightly). A slow answer (0.5 s RTT, 1.5 s on a new connection) gives all 16
    # threads time to join the first flight on a loaded machine.
    box.set_network(rtt=0.5, region=REGION)
    box.set_faults(REGION, error_rate=1.0)
    with gn.Kit("flight-error", backend="sandbox", sandbox=sandbox,
                pool_max_attempts=1) as kit:
        got = _together(THREADS, lambda: kit.call("ec2", "describe_regions", REGION))
        assert _requests(box, "DescribeRegions") == 1
        assert all(isinstance(g, AwsCallError) for g in got), got
        assert len({id(g) for g in got}) == 1  # the leader's error, raised in every thread
        assert got[0].suggestion
        box.clear_faults()
        # an error is not cached: the next miss is a new flight, and it succeeds
        assert kit.call("ec2", "describe_regions", REGION)["Regions"]
        assert _requests(box, "DescribeRegions") == 2
    add_figure("faults_injected", 1)
    add_figure("calls_made", THREADS + 1)


def test_kit_cached_runs_the_function_once(kit: Any) -> None:
    runs = []
    release = threading.Event()

    @kit.cached
    def slow(x: int) -> int:
        runs.append(x)
        release.wait(10)
        return x * 2

    flight = kit.cache.flight

    def let_go() -> None:  # release the leader once the other 15 are waiting on it
        deadline = time.monotonic() + 10
        while flight.in_flight() == 0 or sum(
                f.followers for f in list(flight._flights.values())) < THREADS - 1:
            if time.monotonic() > deadline:
                break
            release.wait(0.005)
        release.set()

    opener = threading.Thread(target=let_go, name="test-flight-release")
    opener.start()
    got = _together(THREADS, lambda: slow(21))
    opener.join()
    assert got == [42] * THREADS
    assert runs == [21]


def test_an_interrupted_leader_hands_the_key_on() -> None:
    flight = SingleFlight()
    entered = threading.Event()
    release = threading.Event()
    result: list[Any] = []

    def leader() -> None:
        def fn() -> int:
            entered.set()
            release.wait(10)
            raise KeyboardInterrupt  # as Ctrl-C in the leader's thread

        with pytest.raises(KeyboardInterrupt):
            flight.do("k", fn)

    def follower() -> None:
        entered.wait(10)
        result.append(flight.do("k", lambda: "mine"))

    threads = [threading.Thread(target=leader), threading.Thread(target=follower)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 10
    while not any(f.followers for f in list(flight._flights.values())):
        assert time.monotonic() < deadline
        release.wait(0.005)
    release.set()
    for t in threads:
        t.join()
    assert result == [("mine", False)]  # it ran fn itself, no KeyboardInterrupt
    assert flight.in_flight() == 0
