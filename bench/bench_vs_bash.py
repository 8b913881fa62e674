"""geuse_nb against the bash suite's way of working, measured side by side in one run.

The bash suite ran every AWS call as an ``aws`` CLI process and its "parallel" runner ran
jobs one after another. Both are reproduced here against the same sandbox and compared
with a pooled ``kit.call`` and ``kit.pmap``.

    .venv/bin/python -m bench.bench_vs_bash
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time

from .timing import median_seconds

JOBS, JOB_SECONDS = 16, 0.2


def main() -> dict[str, float]:
    """Run the comparison, print it, return the figures."""
    import geuse_nb as gn
    from geuse_nb.sandbox import Sandbox

    figures: dict[str, float] = {}
    with Sandbox(seed=7, rtt=0.0) as box, gn.Kit("vs-bash", backend="sandbox", sandbox=box,
                                                   progress_quiet=True) as kit:
        region = "us-east-1"
        kit.call("sts", "get_caller_identity", region)  # warm client and connection
        figures["kit_call_s"] = median_seconds(
            lambda: kit.call("sts", "get_caller_identity", region, refresh=True), 30)
        figures["kit_call_cached_s"] = median_seconds(
            lambda: kit.call("sts", "get_caller_identity", region), 300)
        aws = shutil.which("aws")
        if aws:
            env = {**os.environ, "AWS_ACCESS_KEY_ID": "AKIABENCH", "AWS_SECRET_ACCESS_KEY": "x",
                   "AWS_DEFAULT_REGION": region}
            command = [aws, "sts", "get-caller-identity", "--endpoint-url",
                       box.endpoint_url(region), "--output", "json"]
            subprocess.run(command, env=env, check=True, capture_output=True)
            figures["cli_call_s"] = median_seconds(
                lambda: subprocess.run(command, env=env, check=True, capture_output=True), 10)

        def job(_: int) -> None:
            time.sleep(JOB_SECONDS)  # the bash suite's benchmark job: 0.2 s of waiting

        figures["serial_jobs_s"] = median_seconds(lambda: [job(i) for i in range(JOBS)], 1)
        figures["pmap_jobs_s"] = median_seconds(lambda: kit.pmap(job, range(JOBS),
                                                                  n_jobs=JOBS), 3)

    print("one AWS call against the same sandbox (RTT 0: the client's own cost)")
    if "cli_call_s" in figures:
        cli_ms = figures["cli_call_s"] * 1e3
        print(f"  aws CLI process per call (the bash suite)   {cli_ms:8.1f} ms")
    else:
        print("  aws CLI not found: `pip install awscli` to measure the bash suite's way")
    print(f"  kit.call, pooled client, not cached          {figures['kit_call_s'] * 1e3:8.1f} ms")
    cached_us = figures["kit_call_cached_s"] * 1e6
    print(f"  kit.call, cached                             {cached_us:8.1f} µs")
    if "cli_call_s" in figures:
        figures["cli_over_kit_call"] = figures["cli_call_s"] / figures["kit_call_s"]
        figures["cli_over_cached"] = figures["cli_call_s"] / figures["kit_call_cached_s"]
        print(f"  → {figures['cli_over_kit_call']:.0f}× faster per call, "
              f"{figures['cli_over_cached']:,.0f}× when cached")
    figures["serial_over_pmap"] = figures["serial_jobs_s"] / figures["pmap_jobs_s"]
    print(f"\n{JOBS} jobs of {JOB_SECONDS} s (the bash runner ran them one after another: 3.3 s)")
    print(f"  one after another                            {figures['serial_jobs_s']:8.2f} s")
    print(f"  kit.pmap                                     {figures['pmap_jobs_s']:8.2f} s"
          f"  → {figures['serial_over_pmap']:.1f}× faster")
    return figures


if __name__ == "__main__":
    main()
