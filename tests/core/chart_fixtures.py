"""Hand-made, realistic :class:`~core.results.Analysis` objects for the chart tests.

``btc_analysis()`` builds a BTC-like week of 5m candles (a random walk bridged from about
$84K to $90,120), runs a small liquidation-level book over it (five leverage tiers,
levels consumed when price touches them), adds a short wall 5–12 % above the last price,
keeps longs below thin, and derives the map, clusters, danger zone, imbalance (~14:1) and
both cascades from that book — so every number a chart prints is consistent with the data
it draws. Deterministic (fixed seed); no engine code is used.
"""

from __future__ import annotations

import numpy as np

from core.models import FloatArray, Side
from core.results import (
    Analysis,
    CascadeResult,
    Cluster,
    DangerZone,
    DistanceBand,
    Heatmap,
    Imbalance,
    LiquidationMap,
    LiquidationSeries,
    PriceGrid,
)

__all__ = ["TARGET_RATIO", "btc_analysis", "empty_analysis"]

FIVE_MINUTES = 300_000
END_MS = 1_795_521_600_000  # 2026-11-24 12:00 UTC, open of the last candle
CANDLES = 2016  # 7 days of 5m candles
PER_COLUMN = 12  # heatmap columns are hourly
LAST_PRICE = 90_120.0
# (distance of the liquidation from entry, weight): 5x, 10x, 25x, 50x, 100x on Binance tier 1.
TIERS = ((0.196, 0.15), (0.0964, 0.30), (0.0361, 0.25), (0.0160, 0.20), (0.0060, 0.10))
TARGET_SHORT_ABOVE = 14.0e9
TARGET_RATIO = 14.2


def _price_path(rng: np.random.Generator) -> tuple[FloatArray, ...]:
    steps = rng.normal(0.0, 0.0014, CANDLES)
    walk = np.cumsum(steps)
    t = np.arange(CANDLES) / (CANDLES - 1)
    bridge = walk - t * walk[-1]  # pinned at both ends
    log_close = np.log(84_000.0) + t * np.log(LAST_PRICE / 84_000.0) + bridge
    close = np.exp(log_close)
    open_ = np.concatenate(([84_000.0], close[:-1]))
    wick = np.abs(rng.normal(0.0, 0.0007, (2, CANDLES)))
    high = np.maximum(open_, close) * (1 + wick[0])
    low = np.minimum(open_, close) * (1 - wick[1])
    return open_, high, low, close


def _spread(grid: PriceGrid, prices: FloatArray, weights: FloatArray) -> FloatArray:
    """Notional ``weights`` at ``prices`` smeared over ±1 bin (entries vary in a candle)."""
    out = np.zeros(grid.bins)
    idx = grid.index(prices)
    for shift, share in ((-1, 0.25), (0, 0.5), (1, 0.25)):
        j = idx + shift
        ok = (j >= 0) & (j < grid.bins)
        np.add.at(out, j[ok], weights[ok] * share)
    return out


def _book(
    grid: PriceGrid, high: FloatArray, low: FloatArray, close: FloatArray, rng: np.random.Generator
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Active long/short notional per candle × bin, and realised liquidations per candle."""
    centers = grid.centers
    dist = np.array([d for d, _ in TIERS])
    weight = np.array([w for _, w in TIERS])
    longs = np.zeros(grid.bins)
    shorts = np.zeros(grid.bins)
    long_hist = np.zeros((CANDLES, grid.bins))
    short_hist = np.zeros((CANDLES, grid.bins))
    realised_long = np.zeros(CANDLES)
    realised_short = np.zeros(CANDLES)
    wall = np.exp(-0.5 * ((centers - 96_600.0) / 900.0) ** 2) + 1.3 * np.exp(
        -0.5 * ((centers - 98_400.0) / 700.0) ** 2
    )
    wall[(centers < 94_600.0) | (centers > 100_900.0)] = 0.0
    for t in range(CANDLES):
        hit_long = centers >= low[t]
        hit_short = centers <= high[t]
        realised_long[t] = longs[hit_long].sum()
        realised_short[t] = shorts[hit_short].sum()
        longs[hit_long] = 0.0
        shorts[hit_short] = 0.0
        opened = rng.lognormal(0.0, 0.6)
        longs += _spread(grid, close[t] * (1 - dist), 0.35 * opened * weight)
        shorts += _spread(grid, close[t] * (1 + dist), opened * weight)
        if t > CANDLES // 3:
            shorts += 0.08 * wall  # shorts piling in against the rally, 10x–25x from ~88K
        if rng.random() < 0.15:  # some positions close: OI falls
            keep = 1 - rng.uniform(0.0, 0.02)
            longs *= keep
            shorts *= keep
        long_hist[t] = longs
        short_hist[t] = shorts
    return long_hist, short_hist, realised_long, realised_short


def _columns(hist: FloatArray) -> FloatArray:
    out: FloatArray = hist.reshape(CANDLES // PER_COLUMN, PER_COLUMN, -1).mean(axis=1)
    return out


def _clusters(m: LiquidationMap) -> tuple[Cluster, ...]:
    centers, edges = m.grid.centers, m.grid.edges
    found = []
    near = np.abs(centers / m.price - 1.0) <= 0.12
    for side, values in ((Side.SHORT, m.short), (Side.LONG, m.long)):
        peak = int(np.argmax(np.where(near, values, 0.0)))
        lo, hi = max(peak - 2, 0), min(peak + 3, m.grid.bins)
        found.append(
            Cluster(
                side=side,
                price=float(centers[peak]),
                notional=float(values[lo:hi].sum()),
                peak_notional=float(values[peak]),
                prominence=float(values[peak] - np.median(values[values > 0])),
                low=float(edges[lo]),
                high=float(edges[hi]),
            )
        )
    return tuple(found)


def _zone(m: LiquidationMap) -> DangerZone:
    dense = m.short > 0.3 * m.short.max()
    peak = int(np.argmax(m.short))
    lo = peak
    while lo > 0 and dense[lo - 1]:
        lo -= 1
    hi = peak
    while hi < m.grid.bins - 1 and dense[hi + 1]:
        hi += 1
    return DangerZone(
        side=Side.SHORT,
        low=float(m.grid.edges[lo]),
        high=float(m.grid.edges[hi + 1]),
        notional=float(m.short[lo : hi + 1].sum()),
        peak_price=float(m.grid.centers[peak]),
    )


def _imbalance(m: LiquidationMap, window: float = 0.10) -> Imbalance:
    rel = m.grid.centers / m.price - 1.0

    def band(lo: float, hi: float) -> DistanceBand:
        up = (rel >= lo) & (rel < hi)
        down = (-rel > lo) & (-rel <= hi)
        return DistanceBand(lo, hi, float(m.short[up].sum()), float(m.long[down].sum()))

    bands = tuple(band(lo, hi) for lo, hi in ((0.0, 0.02), (0.02, 0.05), (0.05, window)))
    return Imbalance(
        price=m.price,
        window=window,
        short_above=sum(b.short_above for b in bands),
        long_below=sum(b.long_below for b in bands),
        bands=bands,
    )


def _cascade(
    m: LiquidationMap, direction: int, push: float, depth_per_dollar: float, r_ratio: float
) -> CascadeResult:
    """Fixed-point walk: forced flow moves price by forced / depth-per-$ beyond the push.

    ``r_ratio`` is set by hand (the engine defines it; the chart only prints it).
    """
    centers = m.grid.centers
    start = m.price
    side = m.short if direction > 0 else m.long

    def forced_to(price: float) -> float:
        lo, hi = sorted((start, price))
        return float(side[(centers >= lo) & (centers <= hi)].sum())

    prices = [start * (1 + direction * push)]
    forced = [forced_to(prices[0])]
    for _ in range(40):
        nxt = prices[0] + direction * forced[-1] / depth_per_dollar
        if abs(nxt - prices[-1]) < 1.0:
            break
        prices.append(nxt)
        forced.append(forced_to(nxt))
    return CascadeResult(
        direction=1 if direction > 0 else -1,
        start_price=start,
        push_price=prices[0],
        final_price=prices[-1],
        forced_notional=forced[-1],
        rounds=len(prices) - 1,
        r_ratio=r_ratio,
        path_prices=np.array(prices),
        path_forced=np.array(forced),
        depth_source="model",
    )


def btc_analysis(seed: int = 7) -> Analysis:
    """A week of BTC/USDT on binanceusdm ending at $90,120, shorts stacked above (~14:1)."""
    rng = np.random.default_rng(seed)
    open_, high, low, close = _price_path(rng)
    times = END_MS - FIVE_MINUTES * np.arange(CANDLES - 1, -1, -1, dtype=np.int64)
    grid = PriceGrid.around(70_000.0, 110_000.0, 260)
    long_hist, short_hist, real_long, real_short = _book(grid, high, low, close, rng)
    price = float(close[-1])
    raw = LiquidationMap(grid, price, int(times[-1]), long_hist[-1], short_hist[-1])
    raw_imb = _imbalance(raw)
    short_scale = TARGET_SHORT_ABOVE / raw_imb.short_above
    long_scale = TARGET_SHORT_ABOVE / TARGET_RATIO / raw_imb.long_below
    the_map = raw.with_values(long_hist[-1] * long_scale, short_hist[-1] * short_scale)
    heatmap = Heatmap(
        column_times=times[::PER_COLUMN].copy(),
        grid=grid,
        long=_columns(long_hist) * long_scale,
        short=_columns(short_hist) * short_scale,
    )
    return Analysis(
        symbol="BTC/USDT",
        exchanges=("binanceusdm",),
        timeframe="5m",
        as_of=int(times[-1]),
        price=price,
        heatmap=heatmap,
        map=the_map,
        clusters=_clusters(the_map),
        zones=(_zone(the_map),),
        imbalance=_imbalance(the_map),
        cascade_up=_cascade(the_map, +1, 0.05, 1.5e6, r_ratio=1.8),
        cascade_down=_cascade(the_map, -1, 0.03, 2.0e5, r_ratio=0.4),
        realized=LiquidationSeries(times, real_long * long_scale, real_short * short_scale),
        candle_times=times,
        candle_close=close,
        candle_high=high,
        candle_low=low,
        candle_open=open_,
    )


def empty_analysis() -> Analysis:
    """No candles, an all-zero map and no cascades: every chart must say "no data"."""
    grid = PriceGrid.around(80_000.0, 100_000.0, 50)
    zeros = np.zeros(grid.bins)
    none_i = np.empty(0, dtype=np.int64)
    none_f = np.empty(0)
    return Analysis(
        symbol="BTC/USDT",
        exchanges=("binanceusdm", "bybit"),
        timeframe="5m",
        as_of=END_MS,
        price=LAST_PRICE,
        heatmap=Heatmap(none_i, grid, np.zeros((0, grid.bins)), np.zeros((0, grid.bins))),
        map=LiquidationMap(grid, LAST_PRICE, END_MS, zeros, zeros),
        clusters=(),
        zones=(),
        imbalance=Imbalance(LAST_PRICE, 0.10, 0.0, 0.0, ()),
        cascade_up=None,
        cascade_down=None,
        realized=LiquidationSeries(none_i, none_f, none_f),
        candle_times=none_i,
        candle_close=none_f,
        candle_high=none_f,
        candle_low=none_f,
        candle_open=none_f,
    )
