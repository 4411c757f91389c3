"""Chart rendering benchmark: time and size per chart, and a threaded determinism check.

Renders each chart ``--repeat`` times for the test fixture (a BTC-like week, 2016 5m
candles, 168 hourly heatmap columns × 260 price bins) and prints the median and worst
time per chart and the PNG size; then renders 8 charts from 2 worker threads and checks
the bytes equal serial renders. Target: <= 0.4 s per chart on a 2-core machine.

    MPLBACKEND=agg .venv/bin/python bench/render.py [--repeat 5] [--out DIR]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "core"))

from chart_fixtures import btc_analysis

from core.charts import render_card, render_cascade, render_heatmap, render_map
from core.results import Analysis

CHARTS: dict[str, Callable[[Analysis], bytes]] = {
    "heatmap": render_heatmap,
    "map": render_map,
    "card": render_card,
    "cascade_up": lambda a: render_cascade(a, 1),
    "cascade_down": lambda a: render_cascade(a, -1),
}
TARGET_S = 0.4


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", type=Path, help="write one PNG per chart here")
    args = parser.parse_args()
    analysis = btc_analysis()
    for render in CHARTS.values():  # warm font caches once, like a running bot
        render(analysis)
    ok = True
    print(f"{'chart':<14}{'median s':>10}{'max s':>8}{'KB':>7}  size")
    serial: dict[str, bytes] = {}
    for name, render in CHARTS.items():
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            png = render(analysis)
            times.append(time.perf_counter() - start)
        serial[name] = png
        median = statistics.median(times)
        ok &= median <= TARGET_S
        width = int.from_bytes(png[16:20], "big")
        height = int.from_bytes(png[20:24], "big")
        print(
            f"{name:<14}{median:>10.3f}{max(times):>8.3f}{len(png) / 1024:>7.0f}  {width}×{height}"
        )
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / f"{name}.png").write_bytes(png)

    jobs = [name for name in CHARTS for _ in range(2)][:8]
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2) as pool:
        threaded = list(pool.map(lambda n: CHARTS[n](analysis), jobs))
    elapsed = time.perf_counter() - start
    same = all(png == serial[name] for name, png in zip(jobs, threaded, strict=True))
    print(f"8 renders from 2 threads: {elapsed:.2f} s, identical to serial: {same}")
    ok &= same
    print("PASS" if ok else f"FAIL (target {TARGET_S} s per chart, identical bytes)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
