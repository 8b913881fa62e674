"""Take the README's picture of the report: a PNG of a page, from headless Chromium, offline.

    python scripts/screenshot.py                       # reports/quickstart.report.html
    python scripts/screenshot.py reports/quickstart.html --out docs/quickstart.png

The page comes from `geuse-nb demo` (or `make demo`); run that first. Chromium runs with a
fresh profile in a temporary folder, no background networking, every host resolving to
nothing and every request sent to a closed loopback port, so the picture shows exactly
what the file holds (and that it needs nothing else).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--disable-default-apps", "--disable-extensions", "--hide-scrollbars",
         "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=http://127.0.0.1:9",
         "--proxy-bypass-list=<-loopback>"]


def screenshot(page: Path, out: Path, size: str = "1200,1500") -> Path:
    """Write a PNG of ``page`` to ``out``; returns ``out``."""
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).exists():
        raise SystemExit("chromium is not installed: `make browser` or "
                         "`apt-get install -y chromium`")
    if not page.is_file():
        raise SystemExit(f"{page} does not exist: run `geuse-nb demo` first")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="geuse-shot-") as profile:
        proc = subprocess.Popen(
            [chromium, *FLAGS, f"--user-data-dir={profile}", f"--window-size={size}",
             f"--screenshot={out.resolve()}", page.resolve().as_uri()],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            proc.wait(90)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # the process group started here
            proc.wait()
    if proc.returncode != 0 or not out.exists():
        raise SystemExit(f"chromium exited with {proc.returncode} and wrote no picture")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("page", nargs="?", type=Path,
                        default=ROOT / "reports" / "quickstart.report.html")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "report.png")
    parser.add_argument("--size", default="1200,1500", help="window WIDTH,HEIGHT in pixels")
    args = parser.parse_args(argv)
    print(f"picture: {screenshot(args.page, args.out, args.size)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
