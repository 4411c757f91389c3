"""Open interest for :func:`bot.market.backtest_folder.read_backtest_folder`.

``open_interest.csv`` is a snapshot *at* ``time_ms``: the candle opened at T ends with the
value stamped T + timeframe. Values go onto the candle closes in base units (USD ÷ the
close of the candle ending at the stamp); coarser values are stepped or interpolated
(recorded in ``notes``); and the unit is checked for plausibility against volume and price.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Final

import numpy as np

from bot.market._backtest_checks import (
    Problem,
    Table,
    floats,
    human,
    iso,
    mode,
    non_negative,
    times,
)
from core.models import FloatArray, IntArray, MarketSeries

__all__ = ["with_open_interest"]

_DAY_MS: Final = 86_400_000
#: Open interest ÷ daily volume, both in base units, that real perpetuals stay within.
_OI_PER_DAILY_VOLUME: Final = (0.02, 50.0)
#: No perpetual's open interest is worth more than this many USD.
_MAX_OI_USD: Final = 1e12


def _price_at(series: MarketSeries, stamps: IntArray, tf: int) -> FloatArray:
    """Close of the candle ending at each stamp, else open of the one starting there."""
    n = len(series)
    price = np.full(len(stamps), np.nan)
    for ts, values in ((series.timestamps + tf, series.close), (series.timestamps, series.open)):
        j = np.searchsorted(ts, stamps).clip(0, n - 1)
        hit = (ts[j] == stamps) & np.isnan(price)
        price[hit] = values[j[hit]]
    return price


def _fill(stamps: IntArray, vals: FloatArray, closes: IntArray, step: int, how: str) -> FloatArray:
    k = np.searchsorted(stamps, closes, side="right") - 1
    kc = k.clip(0)
    ok = k >= 0
    exact = ok & (stamps[kc] == closes)
    out = np.where(exact, vals[kc], np.nan)
    if how == "step":
        held = ok & (closes - stamps[kc] < step)
        return np.where(held, vals[kc], np.nan)
    nxt = (k + 1).clip(0, len(stamps) - 1)
    between = ok & ~exact & (k + 1 < len(stamps)) & (stamps[nxt] - stamps[kc] <= step)
    w = (closes - stamps[kc]) / np.maximum(stamps[nxt] - stamps[kc], 1)
    line = vals[kc] + w * (vals[nxt] - vals[kc])
    return np.where(between, line, out)


def with_open_interest(
    series: MarketSeries, t: Table, tf: int, how: str, check_units: bool, notes: list[str]
) -> MarketSeries:
    """Put ``open_interest.csv`` on the candle closes, in base units."""
    name = t.name
    cols = [col for col in ("open_interest", "open_interest_usd") if col in t.header]
    if not cols:
        raise Problem(
            f"{name}:1: missing column open_interest or open_interest_usd — name the value "
            "column open_interest (base units) or open_interest_usd (USD)"
        )
    if len(cols) == 2:
        raise Problem(f"{name}:1: both open_interest and open_interest_usd — keep one of them")
    col = cols[0]
    usd = col == "open_interest_usd"
    stamps = times(t, "time_ms")
    vals = floats(t, col)
    non_negative(t, col, vals)
    t0 = int(series.timestamps[0])
    off = (stamps - t0) % tf != 0
    if off.any():
        finer = len(stamps) >= 2 and mode(np.diff(stamps)) < tf
        i = int(np.flatnonzero(off)[0])
        if not finer or off.all():
            raise Problem(
                f"{t.at(i)}: time_ms {stamps[i]} is not on a candle close (the candles close "
                f"every {human(tf)} from {iso(t0 + tf)}; off by "
                f"{human(int((stamps[i] - t0) % tf))}) — stamp each value at a candle close, "
                "open_time_ms + timeframe"
            )
        notes.append(
            f"{name}: finer than the candles — kept the {int((~off).sum())} values at candle "
            f"closes, dropped {int(off.sum())}"
        )
        stamps, vals = stamps[~off], vals[~off]
    if usd:
        price = _price_at(series, stamps, tf)
        keep = np.isfinite(price)
        if not keep.all():
            notes.append(f"{name}: {int((~keep).sum())} USD values fall in no candle; dropped")
        stamps, vals = stamps[keep], vals[keep] / price[keep]
        notes.append(
            f"{name}: open_interest_usd converted to base units (÷ the close of the candle "
            "ending at each stamp)"
        )
    step = mode(np.diff(stamps)) if len(stamps) >= 2 else tf
    closes = series.timestamps + tf
    oi = _fill(stamps, vals, closes, step, how) if len(stamps) else np.full(len(closes), np.nan)
    if step == tf:
        notes.append(
            f"{name}: one value per {human(tf)} candle close; no fill needed "
            f"(oi_fill={how!r} unused)"
        )
    elif how == "step":
        notes.append(
            f"{name}: {human(step)} values under {human(tf)} candles — stepped: each candle "
            "close holds the last value at or before it"
        )
    else:
        notes.append(
            f"{name}: {human(step)} values under {human(tf)} candles — interpolated linearly "
            f"between the values around each close (looks ahead up to {human(step)})"
        )
    known = int(np.isfinite(oi).sum())
    if known == 0:
        span = f"{iso(stamps[0])} → {iso(stamps[-1])}" if len(stamps) else "none usable"
        raise Problem(
            f"{name}:2: no value falls on a candle close between {iso(closes[0])} and "
            f"{iso(closes[-1])} (values: {span}) — give open interest for the candles' period"
        )
    notes.append(f"{name}: known at {known} of {len(closes)} candle closes (NaN elsewhere)")
    if check_units:
        _check_unit(series, oi, tf, usd, name, notes)
    return dataclasses.replace(series, open_interest=oi)


def _check_unit(
    series: MarketSeries, oi: FloatArray, tf: int, usd: bool, name: str, notes: list[str]
) -> None:
    base = float(np.nanmedian(oi))
    price = float(np.median(series.close))
    daily = float(np.median(series.volume)) * _DAY_MS / tf
    lo, hi = _OI_PER_DAILY_VOLUME
    if daily <= 0:
        notes.append(f"{name}: unit checked only against price (the candles have no volume)")
        ratio = math.nan
    else:
        ratio = base / daily
    as_usd = (ratio > hi and lo <= ratio / price <= hi) or base * price > _MAX_OI_USD
    if not usd and as_usd:
        per_volume = f"{ratio:.3g}× the daily volume, " if math.isfinite(ratio) else ""
        raise Problem(
            f"{name}:1: open_interest (median {base:.4g}) looks like USD, not base units: "
            f"{per_volume}{base * price:.3g} USD at price {price:.6g} — rename the column to "
            "open_interest_usd"
        )
    if usd and ratio < lo and lo <= ratio * price <= hi:
        raise Problem(
            f"{name}:1: open_interest_usd (median {base * price:.4g}) looks like base units, "
            f"not USD: ÷ price it is {ratio:.3g}× the daily volume — rename the column to "
            "open_interest"
        )
    if math.isfinite(ratio):
        notes.append(
            f"{name}: median open interest {base:.4g} base units = {ratio:.3g}× the median "
            "daily volume (plausible)"
        )
