"""The ``geuse-nb bench`` command: its arguments and what it does with them."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import NAMES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scenarios", nargs="*", metavar="SCENARIO",
                        help="scenarios to run (default: all): " + ", ".join(NAMES))
    parser.add_argument("--quick", action="store_true",
                        help="small shapes and few rounds (~1 min): checks every scenario "
                             "runs and reports its ratios; the figures are not the claims")
    parser.add_argument("--rtt", type=float, default=0.060, metavar="S",
                        help="sandbox RTT in seconds (default 0.06)")
    parser.add_argument("--workers", type=int, default=16,
                        help="workers of every contender that has workers (default 16)")
    parser.add_argument("--rounds", type=int, help="rounds per contender (default 5, "
                                                   "2 with --quick)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the results as JSON")
    parser.add_argument("--html", type=Path, metavar="PATH",
                        help="write an HTML report with plots")
    parser.add_argument("--strict", action="store_true",
                        help="exit 1 when a target is not met (default: only when a "
                             "scenario fails to run)")


def main(args: argparse.Namespace) -> int:
    """Run, print, write; exit 1 when a scenario failed (or, with --strict, missed)."""
    from ...errors import UsageError
    from ._suite import run

    if args.rtt < 0 or args.workers < 1 or (args.rounds is not None and args.rounds < 1):
        raise UsageError(f"--rtt {args.rtt}, --workers {args.workers}, --rounds {args.rounds}"
                         " is not valid", suggestion="give RTT ≥ 0, workers ≥ 1, rounds ≥ 1")
    suite = run(args.scenarios, quick=args.quick, rtt=args.rtt, workers=args.workers,
                rounds=args.rounds)
    ratios = suite.ratios()
    judged = ratios[ratios["met"].notna()] if len(ratios) else ratios
    missed = judged[judged["met"] == False]  # noqa: E712  (None means informative)
    print(f"\n{len(suite.results)} scenarios in {suite.seconds:.0f} s on "
          f"{suite.machine['nproc']} × {suite.machine['cpu_model']} "
          f"(load {suite.machine['load_average_1m']:.1f}); targets met "
          f"{len(judged) - len(missed)} of {len(judged)}"
          + (" (--quick: small shapes, not the claims)" if args.quick else ""))
    for path, save in ((args.json, suite.save_json), (args.html, suite.save_html)):
        if path is not None:
            print(f"wrote {save(path)}")
    failed = [r.key for r in suite.results if r.error]
    if failed:
        print(f"geuse-nb: scenarios failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 1 if args.strict and len(missed) else 0
