"""Rollout: 16 regions whose stacks take 3 s to provision, 8 at a time vs one at a time.

Both contenders run in one process against one sandbox (RTT 60 ms per request, handshake
2 × RTT), on regions whose CloudFormation backends and template validation were warmed by
an untimed dry run and deploy first, each creating a new stack. The ideal for 16 regions
at 8 at once is two rounds of provisioning, 2 × 3 s; its targets: wall ≤ 1.3 × ideal and
≥ 5× faster than one region at a time.

    .venv/bin/python -m bench rollout
"""

from __future__ import annotations

import time
import uuid

REGIONS_N, PROVISION_S, MAX_CONCURRENT, RTT_S = 16, 3.0, 8, 0.06


def main() -> dict[str, float]:
    """Run both contenders, print the figures, return them."""
    import geuse_nb as gn
    from geuse_nb.ops import rollout
    from geuse_nb.sandbox import Sandbox
    from geuse_nb.sandbox.regions import DEFAULT_REGIONS

    regions = list(DEFAULT_REGIONS[:REGIONS_N])
    template = rollout.template_path()
    tag = uuid.uuid4().hex[:6]
    figures: dict[str, float] = {}
    with Sandbox(seed=7, regions=regions, rtt=RTT_S) as box, \
            gn.Kit("bench-rollout", backend="sandbox", sandbox=box, progress_quiet=True) as kit:
        warm = rollout.plan(regions, max_concurrent=REGIONS_N, mode="soft")
        rollout.run(kit, warm, template, stack_name=f"warm-{tag}")  # validation, clients
        rollout.run(kit, warm, template, stack_name=f"warm-{tag}", apply=True)  # backends
        box.set_stacks(provision_seconds=PROVISION_S)

        def timed(plan: rollout.Plan, name: str) -> tuple[float, rollout.RolloutResult]:
            start = time.perf_counter()
            result = rollout.run(kit, plan, template, stack_name=name, apply=True)
            return time.perf_counter() - start, result

        parallel = rollout.plan(regions, max_concurrent=MAX_CONCURRENT, mode="soft")
        serial = rollout.plan(regions, max_concurrent=1, mode="soft")
        wall_parallel, got_parallel = timed(parallel, f"par-{tag}")
        wall_serial, got_serial = timed(serial, f"ser-{tag}")
        assert got_parallel.counts == {"done": REGIONS_N}, got_parallel.frame()
        assert got_serial.counts == {"done": REGIONS_N}, got_serial.frame()
        box.set_stacks()
    ideal = -(-REGIONS_N // MAX_CONCURRENT) * PROVISION_S
    figures.update(
        regions=REGIONS_N, provision_s=PROVISION_S, max_concurrent=MAX_CONCURRENT, rtt_s=RTT_S,
        ideal_s=ideal, parallel_s=wall_parallel, serial_s=wall_serial,
        parallel_over_ideal=wall_parallel / ideal, speedup_vs_serial=wall_serial / wall_parallel,
        peak_concurrency=float(got_parallel.peak_concurrency.get(1, 0)),
    )
    print(f"{REGIONS_N} regions, stacks provisioning {PROVISION_S:g} s, sandbox RTT "
          f"{RTT_S * 1e3:.0f} ms, soft mode")
    print(f"  max_concurrent {MAX_CONCURRENT}        {wall_parallel:7.2f} s   "
          f"({figures['parallel_over_ideal']:.2f}× the ideal {ideal:g} s; target ≤ 1.30×)")
    print(f"  one region at a time    {wall_serial:7.2f} s   "
          f"({figures['speedup_vs_serial']:.1f}× slower than 8 at once; target ≥ 5×)")
    print(f"  most regions in flight at once: {figures['peak_concurrency']:.0f}")
    return figures


if __name__ == "__main__":
    main()
