"""How long `import geuse_nb` takes in a fresh interpreter (target < 0.5 s)."""

from __future__ import annotations

import statistics
import subprocess
import sys


def _import_seconds() -> float:
    code = "import time; t = time.perf_counter(); import geuse_nb; print(time.perf_counter() - t)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout)


def main() -> dict[str, float]:
    samples = [_import_seconds() for _ in range(7)]
    p50 = statistics.median(samples)
    print(f"import geuse_nb: p50 {p50 * 1000:.1f} ms over {len(samples)} fresh interpreters "
          f"(target < 500 ms: {'ok' if p50 < 0.5 else 'MISSED'})")
    return {"import_p50_s": p50}


if __name__ == "__main__":
    main()
