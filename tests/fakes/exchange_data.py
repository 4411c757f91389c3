"""Recorded exchange data for the fake exchange, plus clearly labelled stand-ins.

Real (from ``../shared/data``, see its README): Binance ``exchangeInfo``, Bybit
``instruments-info``, OKX ``instruments``, the Binance BTCUSDT 1000-level depth and the
XRP/USDT:USDT 5m and 1h candles and 8h funding rates (Nov 2021).

STAND-INS (nothing was recorded for these; derived deterministically from the real
candles, only so the wire shapes can be exercised — not market truth):

* taker-buy volume: ``volume · clip(0.5 + 0.4·(close − open)/(high − low), 0.05, 0.95)``;
* open interest at each candle close: ``40e6 · (1 + 0.1·sin(i/40)) + 0.02 · cumsum(volume)``
  base units;
* long/short account ratio at each close: ``1 + 0.3·sin(i/25)``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from core.models import FloatArray, IntArray, timeframe_ms
from tests.paths import SHARED_DATA

__all__ = [
    "DATA_DIR",
    "RecordedMarket",
    "data_available",
    "load_json",
    "recorded_market",
]

#: ``../shared/data`` beside the checkout (CI has it there too).
DATA_DIR = SHARED_DATA
XRP_DIR = "freqtrade-xrp"


def data_available() -> bool:
    return (DATA_DIR / "binance-usdm" / "exchangeInfo.json").is_file()


@cache
def load_json(relative: str) -> Any:
    return json.loads((DATA_DIR / relative).read_text())


@dataclass(frozen=True, eq=False)
class RecordedMarket:
    """Candles of one market (real) and the stand-in side series at each candle close."""

    base: str
    timeframe: str
    times: IntArray
    ohlcv: FloatArray  # (n, 5): open high low close volume
    taker_buy: FloatArray  # STAND-IN
    open_interest: FloatArray  # STAND-IN, at close (times + tf)
    long_short: FloatArray  # STAND-IN, at close (times + tf)
    funding_times: IntArray
    funding_rates: FloatArray

    @property
    def tf_ms(self) -> int:
        return timeframe_ms(self.timeframe)

    def without(self, gap: tuple[int, int] | None) -> RecordedMarket:
        """The same market with the candles opening in ``[gap)`` removed."""
        if gap is None:
            return self
        keep = (self.times < gap[0]) | (self.times >= gap[1])
        return RecordedMarket(
            self.base,
            self.timeframe,
            self.times[keep],
            self.ohlcv[keep],
            self.taker_buy[keep],
            self.open_interest[keep],
            self.long_short[keep],
            self.funding_times,
            self.funding_rates,
        )


def candles_from_file(path: Path) -> tuple[IntArray, FloatArray]:
    rows = np.array(json.loads(path.read_text()), dtype=np.float64).reshape(-1, 6)
    return rows[:, 0].astype(np.int64), rows[:, 1:6]


def funding_from_file(path: Path) -> tuple[IntArray, FloatArray]:
    if not path.is_file():
        return np.empty(0, np.int64), np.empty(0)
    rows = np.array(json.loads(path.read_text()), dtype=np.float64).reshape(-1, 6)
    return rows[:, 0].astype(np.int64), rows[:, 1]


@cache
def recorded_market(timeframe: str = "5m", folder: Path | None = None) -> RecordedMarket:
    """XRP/USDT:USDT from a replay-format folder (default: the shared recording)."""
    root = folder or DATA_DIR / XRP_DIR
    times, ohlcv = candles_from_file(root / f"XRP_USDT_USDT-{timeframe}-futures.json")
    funding_times, funding_rates = funding_from_file(root / "XRP_USDT_USDT-8h-funding_rate.json")
    o, h, l, c, v = ohlcv.T  # noqa: E741
    span = np.where(h > l, h - l, 1.0)
    share = np.clip(0.5 + 0.4 * (c - o) / span, 0.05, 0.95)
    i = np.arange(len(times))
    oi = 40e6 * (1 + 0.1 * np.sin(i / 40)) + 0.02 * np.cumsum(v)
    return RecordedMarket(
        base="XRP",
        timeframe=timeframe,
        times=times,
        ohlcv=ohlcv,
        taker_buy=v * share,
        open_interest=oi,
        long_short=1 + 0.3 * np.sin(i / 25),
        funding_times=funding_times,
        funding_rates=funding_rates,
    )


def num(x: float) -> str:
    """A float as the exchanges send it: a decimal string that round-trips exactly."""
    return repr(float(x))
