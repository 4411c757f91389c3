"""Short-above vs long-below imbalance of a liquidation map ("14:1"), in distance bands.

Shorts are liquidated by a rise, so only short notional *above* price counts (up to
``price·(1 + window)``); longs by a fall, so only long notional *below* price (down to
``price·(1 − window)``). A bin that straddles a boundary (the current price, the window
edge, a band edge) contributes the fraction of it that lies inside, measured in the grid's
own coordinate (log-price on a log grid), as in :func:`core.aggregate.bin_fractions`.
"""

from __future__ import annotations

from itertools import pairwise

from core.aggregate import bin_fractions
from core.models import FloatArray, ModelError
from core.results import DistanceBand, Imbalance, LiquidationMap

__all__ = ["DEFAULT_BANDS", "compute_imbalance", "long_notional_below", "short_notional_above"]

#: Band edges as relative distances from price: 0–1 %, 1–2 %, 2–5 %, 5–10 %.
DEFAULT_BANDS: tuple[float, ...] = (0.01, 0.02, 0.05, 0.10)


def _weighted(values: FloatArray, fractions: FloatArray) -> float:
    return float(values @ fractions)


def short_notional_above(m: LiquidationMap, lo: float, hi: float) -> float:
    """Short notional between ``lo`` and ``hi`` relative distance above price (0.01 = 1 %)."""
    lower = m.price * (1.0 + lo)
    return _weighted(m.short, bin_fractions(m.grid, lower, m.price * (1.0 + hi)))


def long_notional_below(m: LiquidationMap, lo: float, hi: float) -> float:
    """Long notional between ``lo`` and ``hi`` relative distance below price (0.01 = 1 %)."""
    upper = m.price * (1.0 - lo)
    return _weighted(m.long, bin_fractions(m.grid, m.price * (1.0 - hi), upper))


def compute_imbalance(
    m: LiquidationMap,
    *,
    window: float = 0.10,
    bands: tuple[float, ...] = DEFAULT_BANDS,
) -> Imbalance:
    """Short notional within ``window`` above price vs long notional within it below.

    ``bands`` are increasing relative distances; one :class:`DistanceBand` is reported per
    consecutive pair starting from 0 (the defaults give 0–1 %, 1–2 %, 2–5 %, 5–10 %).
    Bands stay inside the window asked for: edges beyond ``window`` are dropped and the
    last band ends at it (``window=0.05`` gives 0–1 %, 1–2 %, 2–5 %; ``window=0.03`` gives
    0–1 %, 1–2 %, 2–3 %), so bands that reach the window add up to its totals.
    """
    if not 0.0 < window < 1.0:
        raise ModelError(f"window: must be in (0, 1) (got {window})")
    edges = (0.0, *bands)
    if any(b <= a for a, b in pairwise(edges)) or edges[-1] >= 1.0:
        raise ModelError(f"bands: must increase strictly within (0, 1) (got {bands})")
    inside = tuple(b for b in bands if b < window)
    edges = (0.0, *inside, window) if bands[-1] >= window else edges
    distance_bands = tuple(
        DistanceBand(
            lo=lo,
            hi=hi,
            short_above=short_notional_above(m, lo, hi),
            long_below=long_notional_below(m, lo, hi),
        )
        for lo, hi in pairwise(edges)
    )
    return Imbalance(
        price=m.price,
        window=window,
        short_above=short_notional_above(m, 0.0, window),
        long_below=long_notional_below(m, 0.0, window),
        bands=distance_bands,
    )
