"""Memory of the long-running bot: RSS of `liqwatch run` with 20 symbols on the synthetic source.

The bot runs as a real process (scheduler + Telegram adapter against the loopback fake Bot
API, SQLite on disk), watching 20 simulated perpetuals of one week of 5m candles each.
The script waits until every market has been refreshed and analysed by the scheduler,
asks for a heatmap of every symbol (charts rendered and cached), then reads the process's
resident set (VmRSS) and its peak (VmHWM) from /proc.

Run: ``python bench/memory.py [--symbols 20]`` (Linux only: /proc).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.fakes.fake_telegram import FakeTelegram

TOKEN = "123456789:BENCHbenchBENCHbenchBENCHbench12345"
COINS = (
    "BTC ETH SOL XRP BNB DOGE ADA AVAX LINK DOT TRX TON SUI NEAR APT ARB OP LTC BCH ATOM "
    "FIL INJ SEI TIA WIF PEPE"
).split()


def _mib(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def measure(symbols: int) -> None:
    coins = COINS[:symbols]
    async with FakeTelegram(TOKEN, poll_cap=0.2) as fake:
        with tempfile.TemporaryDirectory() as tmp:
            config = Path(tmp) / "config.toml"
            listed = ", ".join(f'"{c}"' for c in coins)
            config.write_text(
                f'[market]\nsymbols = [{listed}]\n[market.refresh]\ncandles_every = "5s"\n'
                f'[storage]\npath = "{Path(tmp) / "state.sqlite3"}"\n'
                f'[telegram]\nenabled = true\napi_base_url = "{fake.api_base_url}"\n'
                f'default_range = "7d"\n[logging]\nlevel = "WARNING"\n'
            )
            env = {**os.environ, "LIQWATCH__TELEGRAM__TOKEN": TOKEN, "MPLBACKEND": "agg"}
            started = time.perf_counter()
            proc = subprocess.Popen(
                [sys.executable, "-m", "bot.app.cli", "run", "--config", str(config)],
                env=env,
                cwd=Path(__file__).resolve().parents[1],
            )
            try:
                await fake.wait_for("setMyCommands", within=120)
                idle = _mib(proc.pid, "VmRSS")
                db = Path(tmp) / "state.sqlite3"
                # wait until the scheduler has stored every market
                for _ in range(600):
                    if _stored_markets(db) >= len(coins):
                        break
                    await asyncio.sleep(0.5)
                warm = time.perf_counter() - started
                after_cycle = _mib(proc.pid, "VmRSS")
                for i, coin in enumerate(coins):  # one user each: the flood throttle is on
                    fake.inject_command(f"/heatmap {coin} 7d", chat_id=9000 + i, user_id=9000 + i)
                await fake.wait_for("sendPhoto", count=len(coins), within=600)
                served = _mib(proc.pid, "VmRSS")
                peak = _mib(proc.pid, "VmHWM")
            finally:
                proc.terminate()
                await asyncio.to_thread(proc.wait, 60)  # the fake must keep answering
    print(f"liqwatch run, {len(coins)} symbols × 2016 5m candles (synthetic), Telegram on loopback")
    print(f"{'measure':<52}{'value':>12}")
    print("-" * 64)
    print(f"{'RSS after start-up (adapters connected)':<52}{idle:>9.0f} MiB")
    print(f"{'RSS after every market refreshed and analysed':<52}{after_cycle:>9.0f} MiB")
    print(f"{'RSS after a 7d heatmap of every symbol':<52}{served:>9.0f} MiB")
    print(f"{'peak RSS (VmHWM)':<52}{peak:>9.0f} MiB")
    print(f"{'time until every market was stored':<52}{warm:>10.1f} s")


def _stored_markets(db: Path) -> int:
    import sqlite3

    if not db.exists():
        return 0
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)
        try:
            row = conn.execute("SELECT count(DISTINCT market_id) FROM candles").fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return 0
    return int(row[0]) if row else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=20)
    args = parser.parse_args()
    asyncio.run(measure(args.symbols))


if __name__ == "__main__":
    main()
