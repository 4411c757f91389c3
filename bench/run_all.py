"""Run every benchmark script in bench/ and print their tables (``make bench``).

Benchmarks measure; they never fail the build on a number. Each script prints its own
table with the input it measured.
"""

from __future__ import annotations

import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ORDER = (
    "engine.py",
    "backtest.py",
    "accuracy.py",
    "render.py",
    "telegram_latency.py",
    "memory.py",
    "archive.py",
    "scorecard_chance.py",
)


def main() -> int:
    print(f"# liqwatch benchmarks — {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"# machine: {platform.machine()}, {_cpu()}, Python {platform.python_version()}")
    failed = []
    for name in ORDER:
        script = HERE / name
        if not script.exists():
            continue
        print(f"\n## {name}\n", flush=True)
        code = subprocess.call([sys.executable, str(script)], cwd=HERE.parent)
        if code != 0:
            failed.append(name)
    if failed:
        print(f"\nbenchmarks that did not finish: {', '.join(failed)}")
    return 1 if failed else 0


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cores = Path("/proc/cpuinfo").read_text().count("processor\t:")
                return f"{line.split(':', 1)[1].strip()} × {cores}"
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


if __name__ == "__main__":
    sys.exit(main())
