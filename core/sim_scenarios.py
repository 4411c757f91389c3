"""Named market scenarios for the synthetic market (:mod:`core.sim`).

A :class:`Scenario` is plain data: how the exogenous price moves, how many aggregate trader
accounts open positions and on which side, which leverage they really use, how long they
hold, and how deep the order book is. Rates are given per hour or per day so a scenario
means the same market at any candle length.

The leverage mix is the *true* one. The estimation engine always assumes its own default
weights, so scenarios with a different mix (``high-leverage``) test its blind spots honestly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from core.models import ModelError

__all__ = [
    "DEFAULT_LEVERAGE_TIERS",
    "DEFAULT_LEVERAGE_WEIGHTS",
    "SCENARIOS",
    "Scenario",
    "resolve_scenario",
]

#: The engine's default leverage mix: 5x 15 %, 10x 30 %, 25x 25 %, 50x 20 %, 100x 10 %.
DEFAULT_LEVERAGE_TIERS: Final = (5.0, 10.0, 25.0, 50.0, 100.0)
DEFAULT_LEVERAGE_WEIGHTS: Final = (0.15, 0.30, 0.25, 0.20, 0.10)

#: Highest leverage a scenario may use: keeps every new position's liquidation price
#: outside the band around the close where it is opened (see ``entry_band``).
MAX_LEVERAGE: Final = 125.0


@dataclass(frozen=True)
class Scenario:
    """One synthetic market regime; every field has a default of a plain BTC week."""

    name: str
    description: str
    # -- exogenous price (log returns; the forced flow of liquidations comes on top) --
    drift_per_day: float = 0.0  # mean log return per day
    late_drift_per_day: float = 0.0  # mean log return per day in the final stretch ...
    late_share: float = 0.0  # ... which is this share of the run (0: no final stretch)
    vol_per_day: float = 0.025  # standard deviation of the daily log return
    reversion_per_day: float = 0.0  # pull back toward the start price (0 = random walk)
    jumps_per_day: float = 0.5  # expected number of price jumps per day
    jump_size: float = 0.008  # standard deviation of one jump (log return)
    # -- traders (aggregate accounts) --
    accounts_per_hour: float = 480.0  # positions opened per hour (Poisson)
    long_share: float = 0.5  # probability a new account opens a long (taker buy)
    notional_median: float = 120_000.0  # USDT, lognormal median of a position's notional
    notional_sigma: float = 1.0  # lognormal sigma of the notional
    leverage_tiers: tuple[float, ...] = DEFAULT_LEVERAGE_TIERS
    leverage_weights: tuple[float, ...] = DEFAULT_LEVERAGE_WEIGHTS
    long_hold_days: float = 4.0  # mean holding time before a voluntary close
    short_hold_days: float = 4.0
    # -- positions already open when the series starts (opened_at == -1) --
    initial_open_interest: float = 5.0e9  # USDT notional
    initial_long_share: float = 0.5
    initial_spread: float = 0.04  # log-std of their entries around the start price
    # -- market microstructure --
    depth_1pct: float = 600.0e6  # USDT resting on one side of the book within 1 % of mid
    depth_exponent: float = 1.0  # cumulative depth D(v) = depth_1pct * (v / 1 %) ** exponent
    impact_persistence: float = 0.25  # share of the forced-flow impact that stays in the close
    background_volume_ratio: float = 1.5  # non-OI volume per candle / expected opening notional

    def __post_init__(self) -> None:
        if not self.name:
            raise ModelError("scenario.name: must not be empty")
        tiers, weights = self.leverage_tiers, self.leverage_weights
        if not tiers or len(tiers) != len(weights):
            raise ModelError("scenario.leverage_weights: need one weight per leverage tier")
        if any(not 2.0 <= lev <= MAX_LEVERAGE for lev in tiers):
            raise ModelError(f"scenario.leverage_tiers: each tier must be in [2, {MAX_LEVERAGE:g}]")
        if any(w < 0 for w in weights) or abs(sum(weights) - 1.0) > 1e-9:
            raise ModelError("scenario.leverage_weights: must be >= 0 and sum to 1")
        for share in ("long_share", "initial_long_share"):
            if not 0.0 <= getattr(self, share) <= 1.0:
                raise ModelError(f"scenario.{share}: must be in [0, 1]")
        for name in (
            "vol_per_day",
            "accounts_per_hour",
            "notional_median",
            "long_hold_days",
            "short_hold_days",
            "depth_1pct",
            "depth_exponent",
        ):
            if not getattr(self, name) > 0:
                raise ModelError(f"scenario.{name}: must be > 0")
        for name in (
            "reversion_per_day",
            "jumps_per_day",
            "jump_size",
            "notional_sigma",
            "initial_open_interest",
            "initial_spread",
            "background_volume_ratio",
        ):
            if not getattr(self, name) >= 0:
                raise ModelError(f"scenario.{name}: must be >= 0")
        if not 0.0 <= self.late_share <= 1.0:
            raise ModelError("scenario.late_share: must be in [0, 1]")
        if not 0.0 <= self.impact_persistence <= 1.0:
            raise ModelError("scenario.impact_persistence: must be in [0, 1]")


_ALL: Final = (
    Scenario(
        name="seed",
        description="Shorts pile in while price grinds up, then dips: a short-liquidation wall 5-15 % above, thin longs below.",
        drift_per_day=0.015,
        vol_per_day=0.012,
        late_drift_per_day=-0.05,
        late_share=0.08,
        jumps_per_day=0.3,
        long_share=0.07,
        initial_long_share=0.3,
        long_hold_days=3.0,
        short_hold_days=6.0,
    ),
    Scenario(
        name="balanced",
        description="A plain random-walk week with as many longs as shorts opened.",
    ),
    Scenario(
        name="long-heavy",
        description="Longs pile in while price bleeds down, then bounces: a long-liquidation wall below, thin shorts above.",
        drift_per_day=-0.015,
        vol_per_day=0.012,
        late_drift_per_day=0.05,
        late_share=0.08,
        jumps_per_day=0.3,
        long_share=0.93,
        initial_long_share=0.7,
        long_hold_days=6.0,
        short_hold_days=3.0,
    ),
    Scenario(
        name="high-leverage",
        description="Traders favour 50x-100x and the book is thin: frequent liquidation cascades.",
        leverage_tiers=(10.0, 25.0, 50.0, 75.0, 100.0),
        leverage_weights=(0.10, 0.15, 0.30, 0.20, 0.25),
        jumps_per_day=1.5,
        jump_size=0.012,
        depth_1pct=250.0e6,
        impact_persistence=0.4,
    ),
    Scenario(
        name="chop",
        description="Range-bound, mean-reverting price: both sides get flushed at the range edges.",
        vol_per_day=0.03,
        reversion_per_day=6.0,
        jumps_per_day=0.2,
        long_hold_days=2.0,
        short_hold_days=2.0,
    ),
)

#: Scenarios by name.
SCENARIOS: Final[Mapping[str, Scenario]] = MappingProxyType({s.name: s for s in _ALL})


def resolve_scenario(scenario: str | Scenario) -> Scenario:
    """The scenario itself, or the named one; an unknown name lists the available ones."""
    if isinstance(scenario, Scenario):
        return scenario
    try:
        return SCENARIOS[scenario]
    except KeyError:
        names = ", ".join(SCENARIOS)
        raise ModelError(f"scenario {scenario!r} is unknown; available: {names}") from None
