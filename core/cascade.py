"""Squeeze cascade: push price to a level, let crossed liquidations walk the order book.

The model, for an up move (a down move is its mirror: longs, bids, sells). Distances are
relative to the map's price ``s``: ``v = p/s − 1`` (down: ``v = 1 − p/s``).

* **Forced flow** ``F(v)``: short notional between ``s`` and ``s·(1+v)`` — every short
  liquidated on the way becomes a forced market *buy* of that notional. Bins straddling
  the price are counted by overlap fraction (:func:`core.aggregate.bin_fractions`), so
  ``F`` is continuous and non-decreasing.
* **Depth** ``D(v)``: ask notional (price × size) between the touch and distance ``v``.
  From a book, levels are placed by their distance from the book's own mid (so a book
  fetched seconds apart from the last candle still applies) and each level's notional is
  spread linearly over the gap up to it, making ``D`` continuous and strictly increasing.
  Past the book's last level — or with no book — depth follows :class:`DepthModel`
  ``D(v) = A·v^β``; by default re-anchored so the curve passes through the book's last
  level (same β, the book's own scale).
* **Rounds.** The push to ``push_price`` is exogenous: it consumes the depth up to it,
  ``D(v_push)``. The forced flow then eats the depth beyond::

      v_{k+1} = D⁻¹(D(v_push) + F(v_k)),   v_0 = v_push

  Both maps are monotone, so the path rises to the least fixed point
  ``D(v*) = D(v_push) + F(v*)``. It stops when a round moves price by less than
  ``1e-7`` (relative), after ``max_rounds`` rounds, or — having crossed every mapped
  level — with the rest of the flow absorbed beyond the map's edge.

**R ratio.** Over the pushed range ``[s, push]``: liquidation notional crossed per $ of
move ÷ depth notional consumed per $ of move, i.e. ``F(v_push) / D(v_push)``. R > 1: the
forced flow the push releases is larger than the liquidity the push needed, so the move
feeds itself (with uniform depth it carries price at least as far again). Measured over
``[s, final]`` the same ratio is ``F/(D(v_push) + F) < 1`` at every fixed point — true by
construction and uninformative — which is why the push range is used.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from core.aggregate import bin_fractions
from core.models import FloatArray, ModelError, OrderBook
from core.results import CascadeResult, LiquidationMap

__all__ = ["DEFAULT_DEPTH_MODEL", "DepthModel", "simulate_cascade"]

#: A round moving price by less than this (relative) ends the cascade.
_PRICE_TOLERANCE = 1e-7
#: Down moves stop short of a zero price.
_MAX_DOWN_DISTANCE = 0.999


@dataclass(frozen=True)
class DepthModel:
    """Power-law cumulative order-book depth on one side: ``D(v) = A·v^β``.

    ``v`` is the relative distance from the touch (0.01 = 1 %), ``D`` the notional (USDT)
    resting between the touch and that distance. Defaults are BTC-like: β = 1 and
    ``A = 1.5e10``, i.e. $150M within 1 % of price per side. Measured on the recorded
    Binance BTCUSDT book of 2024-08-08 (1,000 levels, ±0.3 %): β ≈ 1.1 (bids) to 1.3
    (asks), extrapolating to $110M–150M at 1 %. For another market, scale ``A`` (e.g.
    :meth:`through` a known depth) — depth is market-specific.
    """

    A: float = 1.5e10
    beta: float = 1.0

    def __post_init__(self) -> None:
        if not (np.isfinite(self.A) and self.A > 0):
            raise ModelError(f"depth model A: must be a positive number (got {self.A})")
        if not (np.isfinite(self.beta) and self.beta > 0):
            raise ModelError(f"depth model beta: must be a positive number (got {self.beta})")

    @classmethod
    def through(cls, distance: float, notional: float, beta: float = 1.0) -> DepthModel:
        """The model with exponent ``beta`` holding ``notional`` within ``distance``."""
        if distance <= 0 or notional <= 0:
            raise ModelError("depth model: need a positive distance and notional")
        return cls(A=notional / distance**beta, beta=beta)

    def depth(self, distance: float) -> float:
        """Notional within relative ``distance`` of the touch."""
        return float(self.A * max(distance, 0.0) ** self.beta)

    def distance(self, notional: float) -> float:
        """Relative distance at which cumulative depth reaches ``notional`` (inverse)."""
        return float((max(notional, 0.0) / self.A) ** (1.0 / self.beta))


DEFAULT_DEPTH_MODEL = DepthModel()


class _DepthCurve:
    """Cumulative depth ``D(v)`` of one book side, continued by a power-law tail."""

    def __init__(self, distances: FloatArray, notionals: FloatArray, tail: DepthModel) -> None:
        keep = (distances > 0) & (notionals > 0)
        self.v: FloatArray = np.concatenate(([0.0], distances[keep]))
        self.d: FloatArray = np.concatenate(([0.0], np.cumsum(notionals[keep])))
        self.reach = float(self.v[-1])  # 0.0: no book, model only
        self.total = float(self.d[-1])
        self.tail = tail

    def depth(self, v: float) -> float:
        if v <= self.reach:
            return float(np.interp(v, self.v, self.d))
        return self.total + self.tail.depth(v) - self.tail.depth(self.reach)

    def inverse(self, notional: float) -> float:
        if notional <= self.total:
            i = int(np.searchsorted(self.d, notional, side="left"))
            if i == 0:
                return 0.0
            frac = (notional - self.d[i - 1]) / (self.d[i] - self.d[i - 1])
            return float(self.v[i - 1] + frac * (self.v[i] - self.v[i - 1]))
        return self.tail.distance(notional - self.total + self.tail.depth(self.reach))


def _depth_curve(
    book: OrderBook | None, direction: int, model: DepthModel, anchor: bool
) -> _DepthCurve:
    empty = np.empty(0)
    if book is None:
        return _DepthCurve(empty, empty, model)
    prices, sizes = (
        (book.ask_prices, book.ask_sizes) if direction > 0 else (book.bid_prices, book.bid_sizes)
    )
    if len(prices) == 0:
        return _DepthCurve(empty, empty, model)
    mid = book.mid if np.isfinite(book.mid) else float(prices[0])
    distances = direction * (prices / mid - 1.0)
    curve = _DepthCurve(distances, prices * sizes, model)
    if anchor and curve.reach > 0:
        curve.tail = DepthModel.through(curve.reach, curve.total, model.beta)
    return curve


def simulate_cascade(
    m: LiquidationMap,
    push_price: float,
    *,
    book: OrderBook | None = None,
    depth_model: DepthModel = DEFAULT_DEPTH_MODEL,
    max_rounds: int = 200,
    anchor_model_to_book: bool = True,
) -> CascadeResult:
    """Push price from ``m.price`` to ``push_price`` and follow the forced flow.

    Direction is up when ``push_price > m.price`` (shorts liquidated, forced buys walk the
    asks) and down otherwise. Depth comes from ``book`` (its relevant side) and, beyond
    it or without it, from ``depth_model`` — re-anchored to the book's last level unless
    ``anchor_model_to_book`` is false. ``depth_source`` is ``"book"`` only when the whole
    walk stayed inside the book; ``outcome`` says why it stopped. See the module
    docstring for the model and the R ratio.
    """
    start = m.price
    if not (np.isfinite(push_price) and push_price > 0) or push_price == start:
        raise ModelError(
            f"push_price: must be a positive price away from {start} (got {push_price})"
        )
    if max_rounds < 0:
        raise ModelError(f"max_rounds: must be >= 0 (got {max_rounds})")
    direction: Literal[1, -1] = 1 if push_price > start else -1
    values = m.short if direction > 0 else m.long
    curve = _depth_curve(book, direction, depth_model, anchor_model_to_book)

    def price_at(v: float) -> float:
        return start * (1.0 + direction * v)

    def forced(v: float) -> float:
        lo, hi = sorted((start, price_at(v)))
        return float(values @ bin_fractions(m.grid, lo, hi))

    v_push = direction * (push_price / start - 1.0)
    if direction < 0 and v_push > _MAX_DOWN_DISTANCE:
        raise ModelError(f"push_price: a fall to {push_price} is beyond the model's range")
    depth_push = curve.depth(v_push)
    v, flow = v_push, forced(v_push)
    path_v, path_p, path_f = [v], [push_price], [flow]
    outcome: Literal["converged", "map_edge", "max_rounds"] = "converged"
    while flow > 0:
        target = max(v, curve.inverse(depth_push + flow))
        if direction < 0:
            target = min(target, _MAX_DOWN_DISTANCE)
        if target - v <= _PRICE_TOLERANCE:
            break
        if len(path_v) > max_rounds:
            outcome = "max_rounds"
            break
        v, flow = target, forced(target)
        path_v.append(v)
        path_p.append(price_at(v))
        path_f.append(flow)
    final = path_p[-1]
    beyond = final >= m.grid.edges[-1] if direction > 0 else final <= m.grid.edges[0]
    if outcome == "converged" and beyond:
        outcome = "map_edge"
    crossed = path_f[0]
    r_ratio = crossed / depth_push if depth_push > 0 else (math.inf if crossed > 0 else 0.0)
    source: Literal["book", "model"] = "book" if 0 < v <= curve.reach else "model"
    return CascadeResult(
        direction=direction,
        start_price=start,
        push_price=push_price,
        final_price=final,
        forced_notional=flow,
        rounds=len(path_v) - 1,
        r_ratio=r_ratio,
        path_prices=np.array(path_p),
        path_forced=np.array(path_f),
        depth_source=source,
        outcome=outcome,
    )
