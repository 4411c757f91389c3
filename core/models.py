"""Frozen market-data types: what every source produces and the engine consumes.

All prices are in the quote currency (USDT), sizes and open interest in base-asset units
(BTC for BTC/USDT:USDT), notionals in quote currency. Times are Unix milliseconds (UTC).
Constructors validate shapes, ordering and finiteness and name the offending field, so a
bad exchange payload fails at the edge with a message rather than deep inside numpy.

Analysis results (maps, clusters, imbalance, cascade) live in :mod:`core.results`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Final

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "TIMEFRAME_MS",
    "Book",
    "FloatArray",
    "IntArray",
    "LiquidationPrints",
    "MarketSeries",
    "ModelError",
    "OrderBook",
    "Side",
    "Snapshot",
    "timeframe_ms",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

#: Candle lengths the project understands, in milliseconds.
TIMEFRAME_MS: Final[dict[str, int]] = {
    "1m": 60_000,
    "3m": 180_000,
    "5m": 300_000,
    "15m": 900_000,
    "30m": 1_800_000,
    "1h": 3_600_000,
    "2h": 7_200_000,
    "4h": 14_400_000,
    "1d": 86_400_000,
}


class ModelError(ValueError):
    """A core data object was built from inconsistent data; the message names the field."""


class Side(IntEnum):
    """Side of a *position*. A liquidated long is a forced sell; a liquidated short a forced buy."""

    LONG = 1
    SHORT = -1


def timeframe_ms(timeframe: str) -> int:
    """Milliseconds in one candle of ``timeframe`` ("5m", "1h", ...)."""
    try:
        return TIMEFRAME_MS[timeframe]
    except KeyError:
        allowed = ", ".join(TIMEFRAME_MS)
        raise ModelError(
            f"timeframe {timeframe!r} is not supported; use one of {allowed}"
        ) from None


def _floats(name: str, values: object, *, allow_nan: bool = False) -> FloatArray:
    arr = np.ascontiguousarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ModelError(f"{name}: expected a 1-D array, got shape {arr.shape}")
    bad = ~np.isfinite(arr)
    if allow_nan:
        bad &= ~np.isnan(arr)
    if bad.any():
        idx = int(np.flatnonzero(bad)[0])
        what = "infinite" if allow_nan else "not finite"
        raise ModelError(f"{name}: value at index {idx} is {what} ({arr[idx]!r})")
    arr.flags.writeable = False
    return arr


def _ints(name: str, values: object) -> IntArray:
    arr = np.ascontiguousarray(values, dtype=np.int64)
    if arr.ndim != 1:
        raise ModelError(f"{name}: expected a 1-D array, got shape {arr.shape}")
    arr.flags.writeable = False
    return arr


def _same_length(n: int, **arrays: NDArray[np.generic] | None) -> None:
    for name, arr in arrays.items():
        if arr is not None and len(arr) != n:
            raise ModelError(f"{name}: length {len(arr)} does not match timestamps ({n})")


def _increasing(name: str, arr: NDArray[np.generic], *, strict: bool) -> None:
    if len(arr) < 2:
        return
    step = np.diff(arr)
    bad = step <= 0 if strict else step < 0
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        order = "strictly increasing" if strict else "non-decreasing"
        raise ModelError(f"{name}: must be {order}; index {i + 1} ({arr[i + 1]}) follows {arr[i]}")


def _non_negative(name: str, arr: FloatArray) -> None:
    neg = arr < 0
    if neg.any():
        i = int(np.flatnonzero(neg)[0])
        raise ModelError(f"{name}: value at index {i} is negative ({arr[i]})")


def _positive(name: str, arr: FloatArray) -> None:
    bad = arr <= 0
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ModelError(f"{name}: value at index {i} must be > 0 (got {arr[i]})")


@dataclass(frozen=True, eq=False)
class MarketSeries:
    """Candles of one market with the derivatives data aligned to them.

    ``open_interest`` is in base units at candle close; ``NaN`` marks a candle the
    exchange had no value for (a gap is marked, never invented). ``funding_rate`` is the
    rate in force during the candle (NaN where unknown); ``long_short_ratio`` is the
    account long/short ratio (NaN where unknown). ``taker_buy_volume`` is the part of
    ``volume`` bought by takers (None where the exchange does not give it).
    """

    timestamps: IntArray
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray
    taker_buy_volume: FloatArray | None = None
    open_interest: FloatArray | None = None
    funding_rate: FloatArray | None = None
    long_short_ratio: FloatArray | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        ts = _ints("timestamps", self.timestamps)
        set_(self, "timestamps", ts)
        _increasing("timestamps", ts, strict=True)
        for name in ("open", "high", "low", "close", "volume"):
            set_(self, name, _floats(name, getattr(self, name)))
        for name in ("taker_buy_volume",):
            if getattr(self, name) is not None:
                set_(self, name, _floats(name, getattr(self, name)))
        for name in ("open_interest", "funding_rate", "long_short_ratio"):
            if getattr(self, name) is not None:
                set_(self, name, _floats(name, getattr(self, name), allow_nan=True))
        n = len(ts)
        _same_length(
            n,
            open=self.open,
            high=self.high,
            low=self.low,
            close=self.close,
            volume=self.volume,
            taker_buy_volume=self.taker_buy_volume,
            open_interest=self.open_interest,
            funding_rate=self.funding_rate,
            long_short_ratio=self.long_short_ratio,
        )
        for name in ("open", "high", "low", "close"):
            _positive(name, getattr(self, name))
        _non_negative("volume", self.volume)
        if self.taker_buy_volume is not None:
            _non_negative("taker_buy_volume", self.taker_buy_volume)
            over = self.taker_buy_volume > self.volume * (1 + 1e-9) + 1e-12
            if over.any():
                i = int(np.flatnonzero(over)[0])
                raise ModelError(f"taker_buy_volume: exceeds volume at index {i}")
        if self.open_interest is not None:
            oi = self.open_interest
            neg = oi < 0  # NaN compares False
            if neg.any():
                i = int(np.flatnonzero(neg)[0])
                raise ModelError(f"open_interest: value at index {i} is negative ({oi[i]})")
        lo_bad = (self.low > np.minimum(self.open, self.close) * (1 + 1e-12)) | (
            self.high < np.maximum(self.open, self.close) * (1 - 1e-12)
        )
        if lo_bad.any():
            i = int(np.flatnonzero(lo_bad)[0])
            raise ModelError(
                f"high/low: candle {i} has low {self.low[i]} / high {self.high[i]} "
                f"outside open {self.open[i]} / close {self.close[i]}"
            )

    def __len__(self) -> int:
        return len(self.timestamps)

    @property
    def typical_price(self) -> FloatArray:
        """(high + low + close) / 3 per candle: where new positions are assumed opened."""
        out: FloatArray = (self.high + self.low + self.close) / 3.0
        return out

    @property
    def last_price(self) -> float:
        return float(self.close[-1]) if len(self) else float("nan")

    def slice(self, start: int, stop: int | None = None) -> MarketSeries:
        """Candles ``[start:stop]`` as a new series (views, no copies)."""
        sl = slice(start, stop)

        def cut(a: FloatArray | None) -> FloatArray | None:
            return None if a is None else a[sl]

        return MarketSeries(
            timestamps=self.timestamps[sl],
            open=self.open[sl],
            high=self.high[sl],
            low=self.low[sl],
            close=self.close[sl],
            volume=self.volume[sl],
            taker_buy_volume=cut(self.taker_buy_volume),
            open_interest=cut(self.open_interest),
            funding_rate=cut(self.funding_rate),
            long_short_ratio=cut(self.long_short_ratio),
        )


@dataclass(frozen=True, eq=False)
class OrderBook:
    """One order-book snapshot: bids best (highest) first, asks best (lowest) first."""

    timestamp: int
    bid_prices: FloatArray
    bid_sizes: FloatArray
    ask_prices: FloatArray
    ask_sizes: FloatArray

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        for name in ("bid_prices", "bid_sizes", "ask_prices", "ask_sizes"):
            set_(self, name, _floats(name, getattr(self, name)))
        if len(self.bid_prices) != len(self.bid_sizes):
            raise ModelError(
                f"bid_sizes: length {len(self.bid_sizes)} does not match "
                f"bid_prices ({len(self.bid_prices)})"
            )
        if len(self.ask_prices) != len(self.ask_sizes):
            raise ModelError(
                f"ask_sizes: length {len(self.ask_sizes)} does not match "
                f"ask_prices ({len(self.ask_prices)})"
            )
        _positive("bid_prices", self.bid_prices)
        _positive("ask_prices", self.ask_prices)
        _non_negative("bid_sizes", self.bid_sizes)
        _non_negative("ask_sizes", self.ask_sizes)
        _increasing("bid_prices (negated)", -self.bid_prices, strict=True)
        _increasing("ask_prices", self.ask_prices, strict=True)
        if (
            len(self.bid_prices)
            and len(self.ask_prices)
            and self.bid_prices[0] >= self.ask_prices[0]
        ):
            raise ModelError(
                f"bid_prices: best bid {self.bid_prices[0]} is not below best ask {self.ask_prices[0]}"
            )

    @property
    def mid(self) -> float:
        if not len(self.bid_prices) or not len(self.ask_prices):
            return float("nan")
        return float((self.bid_prices[0] + self.ask_prices[0]) / 2.0)


Book = OrderBook


@dataclass(frozen=True, eq=False)
class LiquidationPrints:
    """Real (reported) liquidation orders, sorted by time.

    ``sides`` holds :class:`Side` values of the *liquidated position* (+1 long, -1 short);
    ``notionals`` are in quote currency (price × base quantity).
    """

    times: IntArray
    sides: NDArray[np.int8]
    prices: FloatArray
    notionals: FloatArray

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "times", _ints("times", self.times))
        sides = np.ascontiguousarray(self.sides, dtype=np.int8)
        sides.flags.writeable = False
        set_(self, "sides", sides)
        set_(self, "prices", _floats("prices", self.prices))
        set_(self, "notionals", _floats("notionals", self.notionals))
        n = len(self.times)
        _same_length(n, sides=self.sides, prices=self.prices, notionals=self.notionals)
        _increasing("times", self.times, strict=False)
        bad = (self.sides != Side.LONG) & (self.sides != Side.SHORT)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ModelError(f"sides: value at index {i} is {self.sides[i]}; use +1 long, -1 short")
        _positive("prices", self.prices)
        _non_negative("notionals", self.notionals)

    def __len__(self) -> int:
        return len(self.times)

    @classmethod
    def empty(cls) -> LiquidationPrints:
        return cls(
            times=np.empty(0, np.int64),
            sides=np.empty(0, np.int8),
            prices=np.empty(0),
            notionals=np.empty(0),
        )

    @classmethod
    def merged(cls, parts: Sequence[LiquidationPrints]) -> LiquidationPrints:
        """Several feeds' prints as one list in time order (ties keep the feeds' order)."""
        parts = [p for p in parts if len(p)]
        if len(parts) <= 1:
            return parts[0] if parts else cls.empty()
        times = np.concatenate([p.times for p in parts])
        order = np.argsort(times, kind="stable")
        return cls(
            times=times[order],
            sides=np.concatenate([p.sides for p in parts])[order],
            prices=np.concatenate([p.prices for p in parts])[order],
            notionals=np.concatenate([p.notionals for p in parts])[order],
        )

    def per_candle(self, timestamps: IntArray, candle_ms: int) -> tuple[FloatArray, FloatArray]:
        """Sum the prints into candles starting at ``timestamps``: (long_notional, short_notional)."""
        n = len(timestamps)
        longs = np.zeros(n)
        shorts = np.zeros(n)
        if n == 0 or len(self) == 0:
            return longs, shorts
        idx = np.searchsorted(timestamps, self.times, side="right") - 1
        inside = (idx >= 0) & (self.times < timestamps[idx.clip(0)] + candle_ms)
        is_long = self.sides == Side.LONG
        np.add.at(longs, idx[inside & is_long], self.notionals[inside & is_long])
        np.add.at(shorts, idx[inside & ~is_long], self.notionals[inside & ~is_long])
        return longs, shorts


@dataclass(frozen=True, eq=False)
class Snapshot:
    """Everything one source knows about one market at ``fetched_at``."""

    exchange: str
    symbol: str
    timeframe: str
    series: MarketSeries
    fetched_at: int
    book: OrderBook | None = None
    prints: LiquidationPrints = field(default_factory=LiquidationPrints.empty)

    def __post_init__(self) -> None:
        timeframe_ms(self.timeframe)  # validates
        if not self.exchange:
            raise ModelError("exchange: must not be empty")
        if not self.symbol:
            raise ModelError("symbol: must not be empty")

    @property
    def last_candle_at(self) -> int | None:
        return int(self.series.timestamps[-1]) if len(self.series) else None
