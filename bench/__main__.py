"""Run every benchmark in bench/ and print their figures side by side.

``python -m bench`` (or ``make bench``) runs all; ``python -m bench cache pool``
runs the named ones. Each ``bench_<part>.py`` has ``main() -> dict``.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    names = sorted(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)])
                   if m.name.startswith("bench_"))
    wanted = argv if argv is not None else sys.argv[1:]
    if wanted:
        unknown = [w for w in wanted if f"bench_{w}" not in names]
        if unknown:
            print(f"unknown benchmark(s) {unknown}; choose from "
                  f"{[n.removeprefix('bench_') for n in names]}", file=sys.stderr)
            return 2
        names = [f"bench_{w}" for w in wanted]
    results: dict[str, object] = {}
    for name in names:
        print(f"\n===== {name} =====", flush=True)
        start = time.perf_counter()
        results[name] = importlib.import_module(f"bench.{name}").main()
        print(f"({name} took {time.perf_counter() - start:.1f} s)", flush=True)
    out = Path("reports") / "bench.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str))
    print(f"\nall figures written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
