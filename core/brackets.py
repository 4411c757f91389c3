"""Maintenance-margin brackets and Binance USDⓈ-M isolated liquidation prices.

Binance (one-way mode, isolated margin, fees ignored) liquidates a position of quantity
``Q`` entered at ``entry`` with leverage ``L`` at::

    long  = (entry·(1 − 1/L) − cum/Q) / (1 − mmr)
    short = (entry·(1 + 1/L) + cum/Q) / (1 + mmr)

where ``mmr`` is the maintenance-margin rate and ``cum`` the maintenance amount of the
bracket the position's notional falls in. With tier 1 (mmr 0.4 %, cum 0) a 100x long
is liquidated 0.60 % below entry, 25x 3.61 % below, 10x 9.64 % below.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.models import FloatArray, ModelError

__all__ = ["DEFAULT_BTCUSDT_BRACKETS", "Brackets", "liquidation_price"]

# Binance BTCUSDT perpetual brackets: (notional floor, notional cap, mmr, cum, max leverage).
# Source: GET /fapi/v1/leverageBracket as ccxt reports it (../shared/data, 2026).
_BTCUSDT_TABLE: tuple[tuple[float, float, float, float, float], ...] = (
    (0, 300_000, 0.004, 0, 150),
    (300_000, 800_000, 0.005, 300, 100),
    (800_000, 3_000_000, 0.0065, 1_500, 75),
    (3_000_000, 12_000_000, 0.01, 12_000, 50),
    (12_000_000, 70_000_000, 0.02, 132_000, 25),
    (70_000_000, 100_000_000, 0.025, 482_000, 20),
    (100_000_000, 230_000_000, 0.05, 2_982_000, 10),
    (230_000_000, 480_000_000, 0.1, 14_482_000, 5),
    (480_000_000, 600_000_000, 0.125, 26_482_000, 4),
    (600_000_000, 800_000_000, 0.15, 41_482_000, 3),
    (800_000_000, 1_200_000_000, 0.25, 121_482_000, 2),
    (1_200_000_000, 1_800_000_000, 0.5, 421_482_000, 1),
)


@dataclass(frozen=True, eq=False)
class Brackets:
    """A maintenance-margin bracket table, sorted by notional floor."""

    floors: FloatArray
    caps: FloatArray
    mmr: FloatArray
    cum: FloatArray
    max_leverage: FloatArray

    def __post_init__(self) -> None:
        n = len(self.floors)
        if n == 0:
            raise ModelError("brackets: the table is empty")
        for name in ("floors", "caps", "mmr", "cum", "max_leverage"):
            arr = np.ascontiguousarray(getattr(self, name), dtype=np.float64)
            if arr.shape != (n,) or not np.all(np.isfinite(arr)):
                raise ModelError(f"brackets.{name}: need {n} finite values")
            arr.flags.writeable = False
            object.__setattr__(self, name, arr)
        if self.floors[0] != 0 or np.any(np.diff(self.floors) <= 0):
            raise ModelError("brackets.floors: must start at 0 and increase")
        if np.any((self.mmr <= 0) | (self.mmr >= 1)):
            raise ModelError("brackets.mmr: maintenance-margin rates must be in (0, 1)")

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[float, float, float, float, float]]) -> Brackets:
        table = np.array(list(rows), dtype=np.float64).reshape(-1, 5)
        return cls(table[:, 0], table[:, 1], table[:, 2], table[:, 3], table[:, 4])

    @classmethod
    def from_ccxt_tiers(cls, tiers: Iterable[Mapping[str, Any]]) -> Brackets:
        """Build from ccxt's ``fetch_leverage_tiers()[symbol]`` list.

        ``cum`` is taken from the raw ``info`` when the exchange reports it (Binance) and
        otherwise derived so the liquidation price is continuous across brackets.
        """
        rows: list[tuple[float, float, float, float, float]] = []
        cum = 0.0
        prev_mmr = 0.0
        for tier in sorted(tiers, key=lambda t: float(t["minNotional"])):
            floor = float(tier["minNotional"])
            mmr = float(tier["maintenanceMarginRate"])
            info = tier.get("info") or {}
            derived = cum + floor * (mmr - prev_mmr)
            cum = float(info["cum"]) if isinstance(info, Mapping) and "cum" in info else derived
            rows.append((floor, float(tier["maxNotional"]), mmr, cum, float(tier["maxLeverage"])))
            prev_mmr = mmr
        return cls.from_rows(rows)

    def lookup(self, notional: FloatArray) -> tuple[FloatArray, FloatArray]:
        """(mmr, cum) of the bracket each position notional falls in."""
        idx = np.searchsorted(self.floors, notional, side="right") - 1
        idx = np.clip(idx, 0, len(self.floors) - 1)
        return self.mmr[idx], self.cum[idx]


DEFAULT_BTCUSDT_BRACKETS = Brackets.from_rows(_BTCUSDT_TABLE)


def liquidation_price(
    entry: FloatArray | float,
    leverage: FloatArray | float,
    side: FloatArray | float,
    position_notional: FloatArray | float,
    brackets: Brackets = DEFAULT_BTCUSDT_BRACKETS,
) -> FloatArray:
    """Binance isolated liquidation price; ``side`` +1 long, -1 short (vectorised)."""
    entry_a = np.asarray(entry, dtype=np.float64)
    lev = np.asarray(leverage, dtype=np.float64)
    side_a = np.asarray(side, dtype=np.float64)
    notional = np.asarray(position_notional, dtype=np.float64)
    mmr, cum = brackets.lookup(notional)
    qty = notional / entry_a
    long_px = (entry_a * (1.0 - 1.0 / lev) - cum / qty) / (1.0 - mmr)
    short_px = (entry_a * (1.0 + 1.0 / lev) + cum / qty) / (1.0 + mmr)
    out: FloatArray = np.where(side_a > 0, long_px, short_px)
    return out
